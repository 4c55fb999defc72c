// BootWireTests
