"""Steer new connections within one SO_REUSEPORT group: to the old proxy or to the new one.

During a rollout two proxies listen on the same port. The kernel would hash connections
over both groups of sockets: to the new one before it is ready (they would wait for its
start-up, and be reset if it failed) and to the old one while it closes (a connection left
in a closing socket's accept queue is reset). A classic BPF program attached to the group
picks the socket instead: "the first `count` sockets" while the new proxy starts, "the
`count` sockets after the first `offset`" once it passed its checks. The kernel keeps
sockets in the order they joined, so the old proxy's sockets come first. An index the group
does not have (while closed sockets are compacted away) falls back to the kernel's hash.
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import struct

SO_ATTACH_REUSEPORT_CBPF = 51
SO_DETACH_REUSEPORT_BPF = 68
_SKF_AD_RXHASH = -0x1000 + 32  # the packet's flow hash, an ancillary load
_LD_W_ABS, _ALU_MOD_K, _ALU_ADD_K, _RET_A = 0x20, 0x94, 0x04, 0x16

# The kernel copies the program at attach time; the buffer only has to outlive the call.
_keep: list[ctypes.Array[ctypes.c_char]] = []


def attach(sock: socket.socket, *, offset: int, count: int) -> None:
    """Send every new connection of sock's group to socket offset + (flow hash % count)."""
    program = [
        (_LD_W_ABS, 0, 0, _SKF_AD_RXHASH & 0xFFFFFFFF),
        (_ALU_MOD_K, 0, 0, count),
        (_ALU_ADD_K, 0, 0, offset),
        (_RET_A, 0, 0, 0),
    ]
    code = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buf = ctypes.create_string_buffer(code, len(code))
    _keep[:] = [buf]
    fprog = struct.pack("HxxxxxxP", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)


def detach(sock: socket.socket) -> None:
    """Back to the kernel's own hash over every socket of the group."""
    with contextlib.suppress(OSError):  # ENOENT: no program was attached
        sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, 0)
