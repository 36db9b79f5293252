#!/usr/bin/python3
"""A minimal CRI (runtime.v1) client for the containerd suite.

Debian 12 ships no crictl, so the test speaks containerd's CRI gRPC API
itself: python3-grpcio carries the HTTP/2 transport, and the few messages
the test needs are encoded here by field number (the protobuf wire format:
varints and length-delimited fields), which spares a protoc step.

Usage: cri-client.py SOCKET COMMAND ARGS...
  version                          runtime name and version
  runp NAME                        run a pod sandbox (host network: the
                                   test box has no CNI network); prints its id
  podstate POD                     READY or NOTREADY
  create POD NAME IMAGE CMD...     create a container; prints its id
  start ID | stop ID SECONDS | rm ID | stopp POD | rmp POD
  state ID                         CREATED/RUNNING/EXITED/UNKNOWN and the exit code
  exec ID CMD...                   ExecSync: its stdout and stderr, exits with
                                   the command's exit code
Errors from the server go to stderr with status 1.
"""

import sys

import grpc

SERVICE = "/runtime.v1.RuntimeService/"


# ---------------------------------------------------------------------------
# protobuf wire format

def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1  # negative int32/int64 are sent as 64-bit two's complement
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fint(num, value):
    """A varint field (int32, int64, enum, bool); zero is the default, left out."""
    return _varint(num << 3) + _varint(value) if value else b""


def fbytes(num, value):
    """A length-delimited field: string, bytes or an embedded message."""
    if isinstance(value, str):
        value = value.encode()
    return _varint(num << 3 | 2) + _varint(len(value)) + value


def decode(buf):
    """Decodes one message into {field number: [values]}; length-delimited
    values stay bytes (decode them again for embedded messages)."""
    fields, i = {}, 0

    def varint():
        nonlocal i
        shift = n = 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    while i < len(buf):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 2:
            length = varint()
            value = bytes(buf[i:i + length])
            i += length
        elif wire == 1:
            value, i = bytes(buf[i:i + 8]), i + 8
        elif wire == 5:
            value, i = bytes(buf[i:i + 4]), i + 4
        else:
            raise ValueError(f"wire type {wire} of field {num} is not supported")
        fields.setdefault(num, []).append(value)
    return fields


def first(fields, num, default=None):
    return fields.get(num, [default])[0]


def signed32(n):
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


# ---------------------------------------------------------------------------
# the messages the test uses (field numbers from k8s.io/cri-api runtime/v1)

def pod_config(name):
    metadata = fbytes(1, name) + fbytes(2, name + "-uid") + fbytes(3, "husk-test")
    # LinuxPodSandboxConfig.security_context.namespace_options.network = NODE
    namespaces = fint(1, 2)
    linux = fbytes(2, fbytes(1, namespaces))
    return fbytes(1, metadata) + fbytes(2, name) + fbytes(8, linux)


def call(channel, method, request):
    rpc = channel.unary_unary(SERVICE + method,
                              request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
    return decode(rpc(request, timeout=300))


CONTAINER_STATES = ["CREATED", "RUNNING", "EXITED", "UNKNOWN"]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    sock, cmd, args = argv[1], argv[2], argv[3:]
    channel = grpc.insecure_channel("unix://" + sock)
    s = lambda v: v.decode() if isinstance(v, bytes) else v
    if cmd == "version":
        r = call(channel, "Version", fbytes(1, "v1"))
        print(s(first(r, 2, b"")), s(first(r, 3, b"")), s(first(r, 4, b"")))
    elif cmd == "runp":
        r = call(channel, "RunPodSandbox", fbytes(1, pod_config(args[0])))
        print(s(first(r, 1)))
    elif cmd == "podstate":
        r = call(channel, "PodSandboxStatus", fbytes(1, args[0]))
        status = decode(first(r, 1, b""))
        print(["READY", "NOTREADY"][first(status, 3, 0)])
    elif cmd == "create":
        pod, name, image, command = args[0], args[1], args[2], args[3:]
        config = fbytes(1, fbytes(1, name)) + fbytes(2, fbytes(1, image))
        for c in command:
            config += fbytes(3, c)
        # The sandbox config must be the one the pod was made with.
        sandbox = pod_config(pod_name(channel, pod))
        r = call(channel, "CreateContainer",
                 fbytes(1, pod) + fbytes(2, config) + fbytes(3, sandbox))
        print(s(first(r, 1)))
    elif cmd == "start":
        call(channel, "StartContainer", fbytes(1, args[0]))
    elif cmd == "stop":
        call(channel, "StopContainer", fbytes(1, args[0]) + fint(2, int(args[1])))
    elif cmd == "rm":
        call(channel, "RemoveContainer", fbytes(1, args[0]))
    elif cmd == "stopp":
        call(channel, "StopPodSandbox", fbytes(1, args[0]))
    elif cmd == "rmp":
        call(channel, "RemovePodSandbox", fbytes(1, args[0]))
    elif cmd == "state":
        r = call(channel, "ContainerStatus", fbytes(1, args[0]))
        status = decode(first(r, 1, b""))
        print(CONTAINER_STATES[first(status, 3, 0)], signed32(first(status, 7, 0)))
    elif cmd == "exec":
        request = fbytes(1, args[0]) + b"".join(fbytes(2, c) for c in args[1:]) + fint(3, 120)
        r = call(channel, "ExecSync", request)
        sys.stdout.buffer.write(first(r, 1, b""))
        sys.stderr.buffer.write(first(r, 2, b""))
        return signed32(first(r, 3, 0))
    else:
        sys.stderr.write(f"cri-client: unknown command {cmd!r}\n")
        return 2
    return 0


def pod_name(channel, pod):
    """The name a pod was run with (PodSandboxStatus.metadata.name)."""
    r = call(channel, "PodSandboxStatus", fbytes(1, pod))
    status = decode(first(r, 1, b""))
    return first(decode(first(status, 2, b"")), 1, b"").decode()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except grpc.RpcError as e:
        sys.stderr.write(f"cri-client: {sys.argv[2]}: {e.code().name}: {e.details()}\n")
        sys.exit(1)
