// PXEClient: virtual boot clients as sans-IO state machines.
