# The C ABI as Julia sees it: the structs of include/natsbridge.h that cross
# the border by value, and how blocking calls are made.
#
# Every call goes to `NATSBridge_jll.libnatsbridge`. Quick calls (accessors,
# option setters, frees that do not wait on the network) are plain `ccall`s.
# Calls that wait on the network (connect, send, receive, request, reply,
# flush, close, subscribe, a durable subscription's next and the settling of
# its messages) run with `@threadcall` on libuv's thread pool, so
# Julia's thread goes on running tasks meanwhile: the upload/download handler
# task such a call may be waiting for, timers, other subscriptions.
# `@threadcall` runs a tiny generated wrapper on the pool thread, which must
# not look anything up in Julia: it calls through a function pointer read
# from a `const Ref`, resolved once in `__init__` from the jll's handle.
# `smartsend` without a Julia upload handler does not block at all: it uses
# `nb_client_send_notify` (see `notify_send` in bridge.jl).

"The major version of libnatsbridge this package is written for."
const LIBRARY_MAJOR = 0

"The blocking C functions called through `@threadcall`, by name."
const BLOCKING_FUNCTIONS = (:nb_client_connect, :nb_client_send, :nb_client_receive,
                            :nb_client_request, :nb_client_reply, :nb_client_flush,
                            :nb_client_close, :nb_client_ensure_stream,
                            :nb_client_ensure_stream_replicated, :nb_client_subscribe_notify,
                            :nb_client_durable_subscribe, :nb_durable_subscription_next,
                            :nb_jetstream_message_ack, :nb_jetstream_message_nak,
                            :nb_jetstream_message_term)

for name in BLOCKING_FUNCTIONS
    @eval const $(Symbol(:PTR_, name)) = Ref{Ptr{Cvoid}}(C_NULL)
end

function init_function_pointers()
    handle = NATSBridge_jll.libnatsbridge_handle
    for name in BLOCKING_FUNCTIONS
        getfield(@__MODULE__, Symbol(:PTR_, name))[] = dlsym(handle, name)
    end
end

"""
    @blocking nb_function(rettype, (argtypes...), args...)

`@threadcall` of one of `BLOCKING_FUNCTIONS`: the call blocks a libuv pool
thread, not Julia's.
"""
macro blocking(name, rettype, argtypes, args...)
    ptr = Symbol(:PTR_, name)
    return esc(:(@threadcall($ptr[], $rettype, $argtypes, $(args...))))
end

"`struct nb_send_payload` of the header."
struct SendPayload
    dataname::Ptr{UInt8}
    type::Ptr{UInt8}
    data::Ptr{UInt8}
    len::Csize_t
    file_path::Ptr{UInt8}
    table::Ptr{Cvoid}
    metadata_json::Ptr{UInt8}
end

"`struct nb_payload_view` of the header."
struct PayloadView
    id::Ptr{UInt8}
    dataname::Ptr{UInt8}
    type::Ptr{UInt8}
    transport::Ptr{UInt8}
    size::UInt64
    sha256::Ptr{UInt8}
    metadata_json::Ptr{UInt8}
    data::Ptr{UInt8}
    len::Csize_t
    file_path::Ptr{UInt8}
end

PayloadView() = PayloadView(C_NULL, C_NULL, C_NULL, C_NULL, 0, C_NULL, C_NULL, C_NULL, 0, C_NULL)

"A C string that may be NULL, as a `String` or `nothing`."
cstring_or_nothing(ptr::Ptr{UInt8}) = ptr == C_NULL ? nothing : unsafe_string(ptr)
