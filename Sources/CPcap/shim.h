#ifndef BOOTD_CPCAP_SHIM_H
#define BOOTD_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
