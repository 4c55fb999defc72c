// SimNet: deterministic network, virtual clock, faults, simulated ports.
