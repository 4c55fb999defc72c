// sendmmsg(2) for BootNIO. Swift's Glibc module is built without _GNU_SOURCE, so it has
// neither `struct mmsghdr` nor `sendmmsg`: this header declares a struct of the same
// layout, and CBootSocket.c (compiled with _GNU_SOURCE) checks the layout and makes the call.
#ifndef CBOOTSOCKET_H
#define CBOOTSOCKET_H
#include <sys/socket.h>

typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} CBootSocket_mmsghdr;

/// sendmmsg(2): the number of datagrams sent, or -1 with errno set when the first fails.
int CBootSocket_sendmmsg(int fd, CBootSocket_mmsghdr *vector, unsigned int count, int flags);

#endif
