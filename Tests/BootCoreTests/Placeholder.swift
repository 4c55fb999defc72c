// BootCore tests
