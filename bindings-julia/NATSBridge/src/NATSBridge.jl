"""
    NATSBridge

Multi-payload messages over NATS from Julia, on the natsbridge core
(`libnatsbridge`, loaded by `NATSBridge_jll`) through `ccall`:

    env = NATSBridge.smartsend("/chat/room1", [("message", "Hello World", "text")];
                               nats_url = "nats://localhost:4222")
    envelope = NATSBridge.smartreceive(msg)            # a Msg, bytes or the JSON text
    for (dataname, data, type) in envelope["payloads"]
        println("Received \$dataname: \$data")
    end

    bridge = Bridge("nats://localhost:4222")
    sub = subscribe(bridge, "/chat/room1")
    smartsend(bridge, "/chat/room1", [("n", Dict("a" => 1), "dictionary")])
    env = take!(sub; timeout = 5)
    close(bridge)

Every rule (wire format, transports, limits, retries) lives in the core; this
package converts Julia values and errors at the border. Options are keywords
named by the core's option schema (`option_names(scope)`, `docs/options.md`;
durations in milliseconds; see `src/options.jl`).

Threads: Julia (1.5) cannot run Julia code on a library thread. Messages of
subscriptions and calls of upload/download handlers therefore reach Julia
only through `uv_async_send` on a `Base.AsyncCondition` (see
`src/notify.jl`); calls that block on the network run on libuv's thread pool
with `@threadcall` (see `src/lib.jl`), so the Julia thread keeps running its
tasks (among them the handler task a send may be waiting for).
"""
module NATSBridge

using Libdl
using NATSBridge_jll
using NATSBridge_jll: libnatsbridge

export Bridge, Msg, NATSBridgeError, smartsend, smartreceive, subscribe, request, reply,
       ensure_stream, durable_subscribe, DurableSubscription, JetStreamMessage, ack!, nak!, term!

include("lib.jl")
include("errors.jl")
include("json.jl")
include("tables.jl")
include("notify.jl")
include("options.jl")
include("envelope.jl")
include("bridge.jl")
include("durable.jl")

function __init__()
    init_function_pointers()
    init_recent_strings()
    version = unsafe_string(ccall((:nb_version, libnatsbridge), Cstring, ()))
    major = parse(Int, first(split(version, '.')))
    major == LIBRARY_MAJOR || error("NATSBridge: libnatsbridge $(version) loaded from ",
                                    NATSBridge_jll.libnatsbridge_path, "; this package needs ",
                                    LIBRARY_MAJOR, ".x")
    return nothing
end

end # module
