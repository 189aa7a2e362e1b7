"""Running the real QEMU: read arguments back, the paused -S check over QMP, guest probes."""
