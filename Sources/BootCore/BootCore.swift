// BootCore: the engines, the ports they talk through, configuration.
