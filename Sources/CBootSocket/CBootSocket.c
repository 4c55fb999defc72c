#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>
#include "CBootSocket.h"

_Static_assert(sizeof(CBootSocket_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(CBootSocket_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

int CBootSocket_sendmmsg(int fd, CBootSocket_mmsghdr *vector, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vector, count, flags);
}
