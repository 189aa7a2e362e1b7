# The seed article's command line (reconstructed from its description) for x86: the
# same -smp, -m and -numa options on q35. QEMU 7.2 refuses it the same way
# ("total memory for NUMA nodes (0x0) should equal RAM size (0x80000000)"), and with
# -smp cpus=16 the 16 vCPUs are one socket split over 4 nodes: an x86 guest warns
# "sched: CPU #4's llc-sibling CPU #0 is not on the same node! [node: 1 != 0]".
qemu-system-x86_64 -machine q35 -smp cpus=16 -m 2G \
  -numa node,cpus=0-3,nodeid=0 -numa node,cpus=4-7,nodeid=1 \
  -numa node,cpus=8-11,nodeid=2 -numa node,cpus=12-15,nodeid=3 \
  -numa dist,src=0,dst=1,val=15 -numa dist,src=0,dst=2,val=20 \
  -numa dist,src=0,dst=3,val=20 -numa dist,src=1,dst=2,val=20 \
  -numa dist,src=1,dst=3,val=20 -numa dist,src=2,dst=3,val=15
