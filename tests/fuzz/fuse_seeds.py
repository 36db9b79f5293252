#!/usr/bin/env python3
"""Writes seed inputs for tests/fuzz/fuzz_fuse.c into corpus/fuse/: short
guest sessions in the harness's framing (see fuzz_fuse.c), one per request
kind, so the fuzzer starts from valid requests on live node ids (the
fixture's first looked-up node is id 2, the first handle 1)."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuse")
uniq = [100]


def req(opcode, nodeid, args=b"", uid=0, gid=0, room=4096, split=0):
    uniq[0] += 1
    hdr = struct.pack("<IIQQIIIHH", 40 + len(args), opcode, uniq[0], nodeid, uid, gid, 1, 0, 0)
    body = hdr + args
    return struct.pack("<HHB", len(body), room, split) + body


def name(s):
    return s.encode() + b"\0"


LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, \
    OPEN, READ, WRITE, STATFS, RELEASE, FSYNC, SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR, FLUSH, \
    INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR, ACCESS, CREATE, DESTROY, BATCH_FORGET, FALLOCATE, \
    READDIRPLUS, RENAME2, LSEEK, COPY_FILE_RANGE, SYNCFS, SETUPMAPPING, REMOVEMAPPING = \
    1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, \
    29, 30, 34, 35, 38, 42, 43, 44, 45, 46, 47, 50, 48, 49
MIB = 1 << 20
setupmapping_in = lambda foff, length, flags, moff: struct.pack("<QQQQQ", (1 << 64) - 1, foff, length, flags, moff)

read_in = lambda fh, off, size: struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)
open_in = lambda flags: struct.pack("<II", flags, 0)
lk = req(LOOKUP, 1, name("file"))
seeds = {
    "lookup-getattr": lk + req(GETATTR, 2, struct.pack("<IIQ", 0, 0, 0)) + req(FORGET, 2, struct.pack("<Q", 1), room=0),
    "open-read": lk + req(OPEN, 2, open_in(0)) + req(READ, 2, read_in(1, 0, 4096)) + req(FLUSH, 2, struct.pack("<QIIQ", 1, 0, 0, 0)) + req(RELEASE, 2, struct.pack("<QIIQ", 1, 0, 0, 0)),
    "create-write": req(CREATE, 1, struct.pack("<IIII", 0o102, 0o644, 0o22, 0) + name("new"), uid=1000, gid=1000) + req(WRITE, 2, struct.pack("<QQIIQII", 1, 0, 5, 0, 0, 0, 0) + b"hello", split=5) + req(FSYNC, 2, struct.pack("<QII", 1, 0, 0)),
    "mkdir-rmdir": req(MKDIR, 1, struct.pack("<II", 0o755, 0o22) + name("d")) + req(RMDIR, 1, name("d")),
    "mknod-unlink": req(MKNOD, 1, struct.pack("<IIII", 0o10644, 0, 0, 0) + name("p")) + req(UNLINK, 1, name("p")),
    "symlink-readlink": req(SYMLINK, 1, name("l") + name("/etc/passwd")) + req(READLINK, 2) + req(LOOKUP, 2, name("x")),
    "rename": req(RENAME, 1, struct.pack("<Q", 1) + name("file") + name("moved")) + req(RENAME2, 1, struct.pack("<QII", 1, 2, 0) + name("moved") + name("dir")),
    "link": lk + req(LINK, 1, struct.pack("<Q", 2) + name("hard")),
    "setattr": lk + req(SETATTR, 2, struct.pack("<IIQQQQQQIIIIIIII", 0x1 | 0x8 | 0x10 | 0x100, 0, 0, 3, 0, 1000, 0, 0, 5, 0, 0, 0o4755, 0, 7, 8, 0)),
    "xattr": lk + req(SETXATTR, 2, struct.pack("<II", 1, 0) + name("user.a") + b"v") + req(GETXATTR, 2, struct.pack("<II", 64, 0) + name("user.a")) + req(LISTXATTR, 2, struct.pack("<II", 0, 0)) + req(REMOVEXATTR, 2, name("user.a")),
    "readdirplus": req(OPENDIR, 1, open_in(0)) + req(READDIRPLUS, 1, read_in(1, 0, 4096)) + req(READDIR, 1, read_in(1, 0, 4096)) + req(FSYNCDIR, 1, struct.pack("<QII", 1, 0, 0)) + req(RELEASEDIR, 1, struct.pack("<QIIQ", 1, 0, 0, 0)),
    "statfs-access": req(STATFS, 1) + req(ACCESS, 1, struct.pack("<II", 7, 0), uid=1000) + req(SYNCFS, 1, struct.pack("<Q", 0)),
    "falloc-lseek-copy": lk + req(OPEN, 2, open_in(2)) + req(FALLOCATE, 2, struct.pack("<QQQII", 1, 0, 8192, 0, 0)) + req(LSEEK, 2, struct.pack("<QQII", 1, 0, 3, 0)) + req(COPY_FILE_RANGE, 2, struct.pack("<QQQQQQQ", 1, 0, 2, 1, 100, 10, 0)),
    "batch-forget-destroy": lk + req(BATCH_FORGET, 0, struct.pack("<II", 1, 0) + struct.pack("<QQ", 2, 1), room=0) + req(DESTROY, 0) + req(INIT, 0, struct.pack("<IIII", 7, 38, 0, 0) + bytes(48)),
    "big-read": lk + req(OPEN, 2, open_in(0)) + req(READ, 2, read_in(1, 0, 1 << 20), room=0x8000 | 0x7fff, split=0x7f),
}
# DAX sessions (option bit 3: an 8 MiB window): map the file read-only and
# writable, map the symlinks and the FIFO (refused), remove mappings.
dax_seeds = {
    "dax-map-remove": lk + req(SETUPMAPPING, 2, setupmapping_in(0, 2 * MIB, 2, 0)) + req(SETUPMAPPING, 2, setupmapping_in(0, 2 * MIB, 3, 6 * MIB)) + req(REMOVEMAPPING, 1, struct.pack("<I", 2) + struct.pack("<QQ", 0, 2 * MIB) + struct.pack("<QQ", 6 * MIB, 2 * MIB)),
    "dax-refused": req(LOOKUP, 1, name("out")) + req(SETUPMAPPING, 2, setupmapping_in(0, 2 * MIB, 2, 0)) + req(LOOKUP, 1, name("fifo")) + req(SETUPMAPPING, 3, setupmapping_in(0, 2 * MIB, 2, 2 * MIB)) + req(SETUPMAPPING, 1, setupmapping_in(0, 2 * MIB, 2, 4 * MIB)),
}
# Through the virtio transport (option bit 4): SPLIT is what the guest's
# other vCPU does while each request is in service (fuzz_fuse.c).
DISABLE, SHRINK, GROW, MOVE_USED, RESET, REBUILD, OTHER_QUEUE, SCRIBBLE = 1, 2, 4, 8, 16, 32, 64, 128
transport_seeds = {
    "vq-plain": lk + req(GETATTR, 2, struct.pack("<IIQ", 0, 0, 0)),
    "vq-shrink-in-service": lk + req(GETATTR, 2, struct.pack("<IIQ", 0, 0, 0), split=DISABLE | SHRINK) + req(GETATTR, 2, struct.pack("<IIQ", 0, 0, 0), split=DISABLE | GROW | MOVE_USED),
    "vq-reset-in-service": lk + req(OPEN, 2, open_in(0), split=RESET) + req(READ, 2, read_in(1, 0, 4096), split=RESET | REBUILD) + req(GETATTR, 2, struct.pack("<IIQ", 0, 0, 0), split=OTHER_QUEUE | SCRIBBLE),
}
# What a share refuses without allow_setid: set-ID modes on every kind of
# new node and by chmod, privileged xattrs (last: the seeds above keep
# their unique ids).
seeds["setid"] = req(CREATE, 1, struct.pack("<IIII", 0o102, 0o6755, 0, 0) + name("suid"), uid=1000, gid=1000) + req(MKDIR, 1, struct.pack("<II", 0o6777, 0) + name("sd")) + req(MKNOD, 1, struct.pack("<IIII", 0o104755, 0, 0, 0) + name("sn")) + lk + req(SETATTR, 2, struct.pack("<IIQQQQQQIIIIIIII", 0x1 | 0x2 | 0x4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0o6755, 0, 0, 0, 0)) + req(SETXATTR, 2, struct.pack("<II", 20, 0) + name("security.capability") + struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)) + req(SETXATTR, 2, struct.pack("<II", 4, 0) + name("trusted.overlay.redirect") + b"/etc")
# SYNCFS after a change, again with none, after a truncating OPEN; and with
# a writable DAX mapping, which changes files without requests. (Added
# last: the unique counter of the seeds above stays as it was.)
seeds["write-syncfs"] = req(CREATE, 1, struct.pack("<IIII", 0o101, 0o644, 0o22, 0) + name("new")) + req(WRITE, 2, struct.pack("<QQIIQII", 1, 0, 5, 0, 0, 0, 0) + b"hello") + req(RELEASE, 2, struct.pack("<QIIQ", 1, 0, 0, 0)) + req(SYNCFS, 1, struct.pack("<Q", 0)) + req(SYNCFS, 1, struct.pack("<Q", 0)) + req(OPEN, 2, open_in(0o1001)) + req(SYNCFS, 1, struct.pack("<Q", 0))
dax_seeds["dax-write-syncfs"] = lk + req(SETUPMAPPING, 2, setupmapping_in(0, 2 * MIB, 3, 0)) + req(SYNCFS, 1, struct.pack("<Q", 0)) + req(REMOVEMAPPING, 1, struct.pack("<I", 1) + struct.pack("<QQ", 0, 2 * MIB)) + req(SYNCFS, 1, struct.pack("<Q", 0))
os.makedirs(OUT, exist_ok=True)
for n, body in transport_seeds.items():
    with open(os.path.join(OUT, n), "wb") as f:
        f.write(bytes([16]) + body)
for n, body in seeds.items():
    for flags in (0, 1):
        with open(os.path.join(OUT, f"{n}{'-ro' if flags else ''}"), "wb") as f:
            f.write(bytes([flags]) + body)
for n, body in dax_seeds.items():
    for flags in (8, 9):
        with open(os.path.join(OUT, f"{n}{'-ro' if flags & 1 else ''}"), "wb") as f:
            f.write(bytes([flags]) + body)
