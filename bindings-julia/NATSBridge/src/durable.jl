# JetStream consumers over the C ABI (`nb_client_durable_subscribe`,
# `nb_durable_subscription_next`, `nb_jetstream_message_*`). Every rule
# (where a consumer starts, what a message that cannot be decoded does,
# progress acks while links download) is the core's; this file converts.

"""
    durable_subscribe(bridge, subject = nothing; stream, durable = nothing, deliver = "all",
                      ack_wait = 30000, max_deliver = 10, receive keywords...) -> DurableSubscription

Consumes the JetStream stream `stream` (required): the messages whose
subject matches `subject` (wildcards allowed; `nothing`: every subject of
the stream), each a [`JetStreamMessage`](@ref) to settle with `ack!`,
`nak!` or `term!`. With `durable`, the server keeps the consumer's
position: a later subscription with the same name gets what was not
acknowledged (after `ack_wait` ms), with `delivery_count` 2. `deliver`:
`"all"`, `"new"`, `"last"`, `"last_ack"`, a stream sequence (an `Integer`
or its text) or an RFC 3339 time with its offset. The keywords are the
core's `consume` options (`option_names(:consume)`) and receive options
(how link payloads are fetched).

Iterate it (`for m in sub`, ending when it is closed), or take one with
`take!(sub; timeout = seconds)` (throws `TIMEOUT`). A message that is not a
valid envelope is thrown by `take!` as its `NATSBridgeError` (the core has
already settled it); iteration skips it and records the error in
`sub.errors`. `close(sub)` stops pulling (idempotent; also the finalizer):
messages not acknowledged come again to the next subscription with the same
durable name.
"""
mutable struct DurableSubscription
    ptr::Ptr{Cvoid}
    bridge::Bridge
    stream::String
    options::OptionSet           # kept: its download handler serves the subscription
    errors::Vector{NATSBridgeError}
    busy::Int                    # `take!` calls inside the library
    idle::Base.Condition         # notified when `busy` drops to 0
    closing::Bool                # `close` has begun: no new `take!`
end

"""
One message of a JetStream consumer: `envelope` (the Dict `smartreceive`
returns), `stream_sequence`, `delivery_count` (1 the first time). Settle it
with `ack!(m)`, `nak!(m; delay_ms = 0)` or `term!(m)`; one neither
acknowledged nor terminated comes again after the consumer's `ack_wait`.
"""
mutable struct JetStreamMessage
    ptr::Ptr{Cvoid}
    envelope::Dict{String,Any}
    stream_sequence::Int
    delivery_count::Int
end

function Base.show(io::IO, m::JetStreamMessage)
    print(io, "NATSBridge.JetStreamMessage(stream_sequence=", m.stream_sequence,
          ", delivery_count=", m.delivery_count, ")")
end

function Base.show(io::IO, s::DurableSubscription)
    print(io, "NATSBridge.DurableSubscription(", repr(s.stream), s.ptr == C_NULL ? ", closed)" : ")")
end

Base.isopen(s::DurableSubscription) = s.ptr != C_NULL && !s.closing

"The keywords as the options read them: an Integer `deliver` is a stream sequence's text."
function consume_keywords(kwargs)
    given = Dict{Symbol,Any}(pairs(kwargs))
    deliver = get(given, :deliver, nothing)
    if deliver isa Integer && !(deliver isa Bool)
        given[:deliver] = string(deliver)
    end
    return given
end

function durable_subscribe(b::Bridge, subject::Union{AbstractString,Nothing} = nothing; kwargs...)
    given = consume_keywords(kwargs)
    both = (:consume, :receive)
    consume = options_for(:consume, given; allowed = both)
    receive = try
        options_for(:receive, given; allowed = both)
    catch
        free!(consume)
        rethrow()
    end
    filter = subject === nothing ? nothing : String(subject)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = try
        GC.@preserve filter @blocking(nb_client_durable_subscribe, Int32,
            (Ptr{Cvoid}, Ptr{UInt8}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
            client(b), filter === nothing ? Ptr{UInt8}(C_NULL) : pointer(filter), consume.ptr,
            receive.ptr, out, err)
    catch
        free!(receive)
        rethrow()
    finally
        free!(consume)
    end
    if status != 0
        free!(receive)
        check(status, err)
    end
    stream = string(get(given, :stream, ""))
    sub = DurableSubscription(out[], b, stream, receive, NATSBridgeError[], 0, Base.Condition(),
                              false)
    lock(() -> push!(b.subscriptions, sub), b.lock)
    finalizer(finalize_durable, sub)
    return sub
end

"""
    close(sub::DurableSubscription)

Stops pulling: a waiting `take!` throws `CLOSED`, iteration ends. Messages
already taken can still be settled. Idempotent.
"""
function Base.close(s::DurableSubscription)
    (s.ptr == C_NULL || s.closing) && return nothing
    s.closing = true
    ptr = s.ptr
    # Wakes a `take!` waiting in the library (on a pool thread), then waits
    # for it to return before the handle is freed.
    ccall((:nb_durable_subscription_stop, libnatsbridge), Int32, (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}),
          ptr, C_NULL)
    while s.busy > 0
        wait(s.idle)
    end
    s.ptr = C_NULL
    ccall((:nb_durable_subscription_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
    lock(() -> filter!(x -> x !== s, s.bridge.subscriptions), s.bridge.lock)
    free!(s.options)
    return nothing
end

# No task switch here; a subscription that is garbage has no `take!` running
# (it would reference it).
function finalize_durable(s::DurableSubscription)
    ptr, s.ptr = s.ptr, C_NULL
    ptr == C_NULL && return nothing
    ccall((:nb_durable_subscription_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
    s.options.ptr == C_NULL ||
        ccall((:nb_receive_options_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), s.options.ptr)
    s.options.ptr = C_NULL
    s.options.service === nothing || detach!(s.options.service)
    return nothing
end

"""
    take!(sub::DurableSubscription; timeout = Inf) -> JetStreamMessage

The next message, waiting up to `timeout` seconds (`TIMEOUT` error after
that, `CLOSED` once the subscription was closed). The wait runs on a libuv
pool thread, so other tasks run meanwhile. A timeout while a message's link
payloads download loses nothing: not acknowledged, it comes again after
`ack_wait`.
"""
function Base.take!(s::DurableSubscription; timeout::Real = Inf)
    (timeout isa Bool || !(timeout >= 0)) &&
        throw(border_error(:INVALID_ARGUMENT, "timeout must be a number of seconds >= 0"))
    isopen(s) || throw(border_error(:CLOSED, "the durable subscription to $(repr(s.stream)) is closed"))
    ms = isfinite(timeout) ? UInt64(round(timeout * 1000)) : typemax(UInt64)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    s.busy += 1
    status = try
        @blocking(nb_durable_subscription_next, Int32,
                  (Ptr{Cvoid}, UInt64, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), s.ptr, ms, out, err)
    finally
        s.busy -= 1
        s.busy == 0 && notify(s.idle)
    end
    check(status, err; cause = first_cause(s.options.service))
    return jetstream_message(out[])
end

"Converts a message handle: its envelope moves to a Dict, the handle settles it."
function jetstream_message(ptr::Ptr{Cvoid})
    try
        sequence = ccall((:nb_jetstream_message_stream_sequence, libnatsbridge), UInt64,
                         (Ptr{Cvoid},), ptr)
        count = ccall((:nb_jetstream_message_delivery_count, libnatsbridge), UInt64,
                      (Ptr{Cvoid},), ptr)
        env = ccall((:nb_jetstream_message_take_envelope, libnatsbridge), Ptr{Cvoid},
                    (Ptr{Cvoid},), ptr)
        env == C_NULL && throw(border_error(:INTERNAL, "a JetStream message without its envelope"))
        message = JetStreamMessage(ptr, take_envelope(env), Int(sequence), Int(count))
        finalizer(free!, message)
        return message
    catch
        ccall((:nb_jetstream_message_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
        rethrow()
    end
end

function free!(m::JetStreamMessage)
    ptr, m.ptr = m.ptr, C_NULL
    ptr == C_NULL || ccall((:nb_jetstream_message_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
    return nothing
end

function message_handle(m::JetStreamMessage)
    m.ptr == C_NULL && throw(border_error(:CLOSED, "this JetStream message was freed"))
    return m.ptr
end

"""
    ack!(m::JetStreamMessage)

Acknowledges the message and waits for the server to confirm it: no
subscription with this durable name gets it again.
"""
function ack!(m::JetStreamMessage)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(GC.@preserve(m, @blocking(nb_jetstream_message_ack, Int32,
                                    (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), message_handle(m), err)), err)
end

"""
    nak!(m::JetStreamMessage; delay_ms = 0)

Asks for the message again, after `delay_ms` milliseconds (0: at once).
"""
function nak!(m::JetStreamMessage; delay_ms::Integer = 0)
    delay_ms >= 0 || throw(border_error(:INVALID_ARGUMENT, "delay_ms must be >= 0, got $(delay_ms)"))
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(GC.@preserve(m, @blocking(nb_jetstream_message_nak, Int32,
                                    (Ptr{Cvoid}, UInt64, Ptr{Ptr{Cvoid}}), message_handle(m),
                                    UInt64(delay_ms), err)), err)
end

"""
    term!(m::JetStreamMessage)

Stops redelivery of the message without processing it.
"""
function term!(m::JetStreamMessage)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(GC.@preserve(m, @blocking(nb_jetstream_message_term, Int32,
                                    (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), message_handle(m), err)), err)
end

function Base.iterate(s::DurableSubscription, state = nothing)
    while true
        item = try
            take!(s)
        catch err
            err isa NATSBridgeError || rethrow()
            err.kind === :CLOSED && return nothing
            push!(s.errors, err)
            continue
        end
        return (item, nothing)
    end
end

Base.IteratorSize(::Type{DurableSubscription}) = Base.SizeUnknown()
Base.eltype(::Type{DurableSubscription}) = JetStreamMessage
