# Connections, sends, receives, subscriptions, request/reply.

"""
    Bridge(nats_url = nothing; connect keywords...)

One connection to NATS (`nats_url` may list several servers separated by
commas; `nothing`: the `nats_url` keyword, else `\$NATS_URL`, else
`nats://localhost:4222`, resolved by the core), with `smartsend`,
`smartreceive`, `subscribe`, `request`, `reply`, `ensure_stream`, `flush`
and `close`. Freed by `close` (idempotent) or its finalizer. The keywords
are the core's connect options (`option_names(:connect)`, `docs/options.md`;
durations in milliseconds).
"""
mutable struct Bridge
    ptr::Ptr{Cvoid}
    url::Union{String,Nothing}
    subscriptions::Vector{Any}   # open (durable) subscriptions, closed before the client
    lock::ReentrantLock
    # Woken by the library when a send started by `nb_client_send_notify`
    # completes after that call returned; made on first use. Never closed
    # explicitly: a send in flight holds the Bridge (and so this), and its
    # pending send is freed before that frame ends, after which nothing
    # notifies it; its own finalizer closes it.
    send_cond::Union{Base.AsyncCondition,Nothing}
    function Bridge(nats_url::Union{AbstractString,Nothing} = nothing; kwargs...)
        url = nats_url === nothing ? nothing : String(nats_url)
        url === nothing || !occursin('\0', url) ||
            throw(border_error(:INVALID_ARGUMENT, "nats_url holds a NUL character"))
        options = options_for(:connect, kwargs)
        out = Ref{Ptr{Cvoid}}(C_NULL)
        err = Ref{Ptr{Cvoid}}(C_NULL)
        status = try
            GC.@preserve url @blocking(nb_client_connect, Int32,
                (Ptr{UInt8}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
                url === nothing ? Ptr{UInt8}(C_NULL) : pointer(url), options.ptr, out, err)
        finally
            free!(options)
        end
        check(status, err)
        bridge = new(out[], url, Any[], ReentrantLock(), nothing)
        finalizer(finalize_bridge, bridge)
        return bridge
    end
end

function Base.show(io::IO, b::Bridge)
    print(io, "NATSBridge.Bridge(", b.url === nothing ? "default URL" : repr(b.url),
          b.ptr == C_NULL ? ", closed)" : ")")
end

Base.isopen(b::Bridge) = b.ptr != C_NULL

function client(b::Bridge)
    b.ptr == C_NULL && throw(border_error(:CLOSED, "this Bridge is closed"))
    return b.ptr
end

"""
    close(bridge)

Closes the bridge's subscriptions, flushes what was published and closes the
connection. Idempotent; later calls on the bridge throw a `CLOSED` error.
"""
function Base.close(b::Bridge)
    lock(b.lock) do
        b.ptr == C_NULL && return
        for sub in copy(b.subscriptions)
            close(sub)
        end
        ptr = b.ptr
        err = Ref{Ptr{Cvoid}}(C_NULL)
        status = @blocking(nb_client_close, Int32, (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), ptr, err)
        b.ptr = C_NULL
        # After nb_client_close the free has nothing left to wait for.
        ccall((:nb_client_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
        status == 0 || take_error(status, err[])   # a failed final flush: freed, not thrown
    end
    return nothing
end

# A finalizer must not switch tasks: it frees directly. A bridge that is
# garbage has no live subscriptions (they reference it).
function finalize_bridge(b::Bridge)
    ptr, b.ptr = b.ptr, C_NULL
    ptr == C_NULL || ccall((:nb_client_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
    return nothing
end

"""
    flush(bridge)

Waits until everything published so far has reached the server.
"""
function Base.flush(b::Bridge)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(@blocking(nb_client_flush, Int32, (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), client(b), err), err)
end

"""
    ensure_stream(bridge, name, subjects; replicas = nothing)

Creates the JetStream stream `name` capturing `subjects` unless it exists;
needed before sends with `jetstream = true` and `durable_subscribe`. Kept by
`replicas` servers (`nothing`: the connection's `jetstream_replicas`, 1
unless set; a single server takes 1, a cluster up to 5).
"""
function ensure_stream(b::Bridge, name::AbstractString, subjects;
                       replicas::Union{Integer,Nothing} = nothing)
    subjects isa AbstractString && (subjects = [subjects])
    strings = [String(s) for s in subjects]
    ptrs = [pointer(s) for s in strings]
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = if replicas === nothing
        GC.@preserve strings ptrs @blocking(nb_client_ensure_stream, Int32,
            (Ptr{Cvoid}, Cstring, Ptr{Ptr{UInt8}}, Csize_t, Ptr{Ptr{Cvoid}}),
            client(b), String(name), ptrs, length(ptrs), err)
    else
        replicas >= 0 || throw(border_error(:INVALID_ARGUMENT, "replicas must be at least 1"))
        GC.@preserve strings ptrs @blocking(nb_client_ensure_stream_replicated, Int32,
            (Ptr{Cvoid}, Cstring, Ptr{Ptr{UInt8}}, Csize_t, Csize_t, Ptr{Ptr{Cvoid}}),
            client(b), String(name), ptrs, length(ptrs), Csize_t(replicas), err)
    end
    check(status, err)
end

# ------------------------------------------------------------------ pool

const POOL = Dict{String,Bridge}()
const POOL_LOCK = ReentrantLock()

"""
    pooled_bridge(nats_url) -> Bridge

The shared connection of the function-style calls: one per URL, made on
first use and reused (as in every other front end). `nothing`: the core
resolves `\$NATS_URL`, else `nats://localhost:4222` (once, when the pooled
connection is made).
"""
function pooled_bridge(url::Union{AbstractString,Nothing})
    key = url === nothing ? "" : String(url)
    lock(POOL_LOCK) do
        bridge = get(POOL, key, nothing)
        if bridge === nothing || !isopen(bridge)
            bridge = Bridge(url)
            POOL[key] = bridge
        end
        return bridge
    end
end

# ------------------------------------------------------------------ sends

"Runs a blocking send-like call with its payloads and options, and the handler's cause on failure."
function with_send(body, data, kwargs; allowed = (:send,))
    payloads = outgoing(data)
    options = try
        options_for(:send, kwargs; allowed = allowed)
    catch
        free!(payloads)
        rethrow()
    end
    try
        return GC.@preserve payloads body(payloads, options)
    finally
        free!(options)
        free!(payloads)
    end
end

function sent_envelope(json::Ptr{UInt8})
    text = unsafe_string(json)
    ccall((:nb_string_free, libnatsbridge), Cvoid, (Ptr{UInt8},), json)
    return parse_json(text)
end

"""
    smartsend(subject, data; nats_url = nothing, keywords...) -> Dict{String,Any}
    smartsend(bridge, subject, data; keywords...)

Sends `data`, a vector of `(dataname, data, type)` tuples, as one envelope on
`subject`; payloads at or above `size_threshold` (default 1,000,000 bytes)
go by link through the claim-check store (`fileserver_url`, an upload
handler `fileserverUploadHandler(fileserver_url, dataname, bytes) -> url`,
or the JetStream Object Store). Returns the envelope as published, parsed.
The function form reuses one connection per `nats_url`. Keywords: the
core's send options (`correlation_id`, `msg_purpose`,
`sender_name`, `receiver_name`, `receiver_id`, `reply_to`,
`reply_to_msg_id`, `metadata`, `jetstream`, ...: `option_names(:send)`).
`nats_url = nothing`: `\$NATS_URL`, else `nats://localhost:4222`.
"""
function smartsend(subject::AbstractString, data; nats_url::Union{AbstractString,Nothing} = nothing,
                   kwargs...)
    return smartsend(pooled_bridge(nats_url), subject, data; kwargs...)
end

function smartsend(b::Bridge, subject::AbstractString, data; kwargs...)
    with_send(data, kwargs) do payloads, options
        # A send whose upload handler is a Julia function keeps the pool
        # thread: cancelling it (an exception while it waits) must wait for
        # the handler's C callback, which waits for Julia's thread.
        options.service === nothing || return blocking_send(b, subject, payloads, options)
        return notify_send(b, subject, payloads, options)
    end
end

"The Bridge's send condition (see `Bridge`), made on first use."
function send_condition(b::Bridge)
    cond = b.send_cond
    cond === nothing || return cond
    cond = Base.AsyncCondition()
    b.send_cond = cond
    return cond
end

"""
A send that never blocks Julia's thread: `nb_client_send_notify` runs it
on this thread as far as it goes without waiting (a direct send usually
completes right there); otherwise it completes on the library's runtime,
which wakes `b.send_cond` (`uv_async_send`), and this task waits on the
condition meanwhile, so other tasks run. No Julia code runs on a library
thread.
"""
function notify_send(b::Bridge, subject::AbstractString, payloads::OutgoingPayloads, options)
    cond = send_condition(b)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = ccall((:nb_client_send_notify, libnatsbridge), Int32,
        (Ptr{Cvoid}, Cstring, Ptr{SendPayload}, Csize_t, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid},
         Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
        client(b), String(subject), payloads.descriptors, length(payloads.descriptors), options.ptr,
        uv_async_send_ptr(), cond.handle, out, err)
    check(status, err)
    pending = out[]
    done = Ref{Bool}(false)
    try
        while true
            # The wire bytes are not needed here (NULL): the Dict comes from
            # the sent envelope's fields below.
            status = ccall((:nb_pending_send_result, libnatsbridge), Int32,
                           (Ptr{Cvoid}, Ref{Bool}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}),
                           pending, done, C_NULL, C_NULL, err)
            check(status, err)
            # The envelope as published, built from views of the sent
            # envelope's fields (no JSON text to parse).
            done[] && return sent_envelope_dict(pending)
            # Single-threaded between the check and the wait: the library's
            # wake-up is handled by the event loop only once this task waits.
            wait(cond)
        end
    finally
        # Cancels the send if it has not completed (an exception while
        # waiting); with no Julia handler this never waits on Julia.
        ccall((:nb_pending_send_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), pending)
    end
end

"The envelope of a completed pending send, as the Dict its JSON parses to."
function sent_envelope_tree(pending::Ptr{Cvoid})
    root = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:nb_pending_send_envelope_json, libnatsbridge), Int32,
                (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), pending, root, err), err)
    try
        return json_value(root[])
    finally
        ccall((:nb_json_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), root[])
    end
end

"A send on a libuv pool thread (`@threadcall`), for sends with a Julia upload handler."
function blocking_send(b::Bridge, subject::AbstractString, payloads::OutgoingPayloads, options)
    out = Ref{Ptr{UInt8}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = @blocking(nb_client_send, Int32,
        (Ptr{Cvoid}, Cstring, Ptr{SendPayload}, Csize_t, Ptr{Cvoid}, Ptr{Ptr{UInt8}}, Ptr{Ptr{Cvoid}}),
        client(b), String(subject), payloads.descriptors, length(payloads.descriptors),
        options.ptr, out, err)
    check(status, err; cause = first_cause(options.service))
    return sent_envelope(out[])
end

# ------------------------------------------------------------------ receives

"""
    smartreceive(msg; fileserverDownloadHandler = nothing, max_retries = 5, base_delay = 100,
                 max_delay = 5000, download_timeout = 30000, nats_url = nothing,
                 keywords...) -> Dict{String,Any}
    smartreceive(msg, fileserverDownloadHandler; keywords...)
    smartreceive(bridge, msg; keywords...)

Decodes a message (a `Msg`, a `Vector{UInt8}` or a `String` body): checks
the envelope, verifies each payload's size and sha256, and downloads link
payloads (with `fileserverDownloadHandler(url, max_retries, base_delay,
max_delay) -> bytes` when given; `nats-object://` links over the connection
of `nats_url`, `nothing`: `\$NATS_URL`, else `nats://localhost:4222`).
Returns the envelope Dict whose `"payloads"` are `(dataname, data, type)`
tuples (see `envelope_dict`). Keywords: the core's receive options
(`option_names(:receive)`; durations in milliseconds).
"""
function smartreceive(msg; nats_url::Union{AbstractString,Nothing} = nothing, kwargs...)
    return smartreceive(pooled_bridge(nats_url), msg; kwargs...)
end

smartreceive(msg, handler; kwargs...) =
    smartreceive(msg; fileserverDownloadHandler = handler, kwargs...)

function smartreceive(b::Bridge, msg; kwargs...)
    bytes = message_bytes(msg)
    options = options_for(:receive, kwargs)
    try
        out = Ref{Ptr{Cvoid}}(C_NULL)
        err = Ref{Ptr{Cvoid}}(C_NULL)
        status = GC.@preserve bytes @blocking(nb_client_receive, Int32,
            (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
            client(b), pointer(bytes), length(bytes), options.ptr, out, err)
        check(status, err; cause = first_cause(options.service))
        return take_envelope(out[])
    finally
        free!(options)
    end
end

# ------------------------------------------------------------------ request / reply

"""
    request(bridge, subject, data; timeout = 0, send and receive keywords...) -> Dict{String,Any}
    request(subject, data; nats_url = nothing, ...)

Sends a request and waits for the reply envelope (`timeout` seconds; 0 means
the connection's request timeout). Throws `TIMEOUT` or `NO_RESPONDERS`.
"""
function request(subject::AbstractString, data; nats_url::Union{AbstractString,Nothing} = nothing,
                 kwargs...)
    return request(pooled_bridge(nats_url), subject, data; kwargs...)
end

function request(b::Bridge, subject::AbstractString, data; timeout::Real = 0, kwargs...)
    (timeout isa Bool || !(timeout >= 0) || !isfinite(timeout)) &&
        throw(border_error(:INVALID_ARGUMENT, "timeout must be a number of seconds >= 0"))
    receive = options_for(:receive, kwargs; allowed = (:send, :receive))
    try
        with_send(data, kwargs; allowed = (:send, :receive)) do payloads, options
            out = Ref{Ptr{Cvoid}}(C_NULL)
            err = Ref{Ptr{Cvoid}}(C_NULL)
            status = @blocking(nb_client_request, Int32,
                (Ptr{Cvoid}, Cstring, Ptr{SendPayload}, Csize_t, Ptr{Cvoid}, UInt64, Ptr{Cvoid},
                 Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
                client(b), String(subject), payloads.descriptors, length(payloads.descriptors),
                options.ptr, UInt64(round(timeout * 1000)), receive.ptr, out, err)
            cause = something(first_cause(options.service), first_cause(receive.service), Some(nothing))
            check(status, err; cause = cause)
            return take_envelope(out[])
        end
    finally
        free!(receive)
    end
end

"""
    reply(bridge, request_envelope, data; send keywords...) -> Dict{String,Any}

Answers a received request (wire v1 section 6): the core publishes `data` to
its reply_to (or NATS inbox) with reply_to_msg_id and correlation_id set;
msg_purpose is "response" unless given. `request_envelope` is a Dict from
`smartreceive`, `take!` or a subscription.
"""
function reply(b::Bridge, request_envelope::AbstractDict, data; kwargs...)
    handle = get(request_envelope, "reply_handle", nothing)
    (handle isa ReplyHandle && handle.ptr != C_NULL) || throw(border_error(:INVALID_ARGUMENT,
        "this envelope has nowhere to reply to (no reply_to and no NATS reply inbox)"))
    with_send(data, kwargs) do payloads, options
        out = Ref{Ptr{UInt8}}(C_NULL)
        err = Ref{Ptr{Cvoid}}(C_NULL)
        status = GC.@preserve handle @blocking(nb_client_reply, Int32,
            (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{SendPayload}, Csize_t, Ptr{Cvoid}, Ptr{Ptr{UInt8}}, Ptr{Ptr{Cvoid}}),
            client(b), handle.ptr, payloads.descriptors, length(payloads.descriptors),
            options.ptr, out, err)
        check(status, err; cause = first_cause(options.service))
        return sent_envelope(out[])
    end
end

# ------------------------------------------------------------------ subscriptions

"""
    subscribe(bridge, subject; queue = nothing, receive keywords...) -> Subscription

Subscribes to `subject` (wildcards allowed), in queue group `queue` when
given. Every message published after this returns reaches it. Iterate it
(`for env in sub`, ending when the subscription closes), or take one with
`take!(sub; timeout = seconds)` (throws `TIMEOUT`). A message that could not
be decoded is thrown by `take!` as its `NATSBridgeError` (the next call gets
the next message); iteration skips such messages and records the error in
`sub.errors`. `close(sub)` unsubscribes (idempotent; also the finalizer).
"""
mutable struct Subscription
    ptr::Ptr{Cvoid}
    bridge::Bridge
    subject::String
    cond::Base.AsyncCondition
    options::OptionSet           # kept: its download handler serves the subscription
    errors::Vector{NATSBridgeError}
end

function subscribe(b::Bridge, subject::AbstractString; queue = nothing, kwargs...)
    options = options_for(:receive, kwargs)
    cond = new_condition()
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    group = queue === nothing ? nothing : String(queue)
    status = try
        GC.@preserve group @blocking(nb_client_subscribe_notify, Int32,
            (Ptr{Cvoid}, Cstring, Ptr{UInt8}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}},
             Ptr{Ptr{Cvoid}}),
            client(b), String(subject), group === nothing ? Ptr{UInt8}(C_NULL) : pointer(group),
            options.ptr, uv_async_send_ptr(), cond.handle, out, err)
    catch
        free!(options)
        retire_condition(cond)
        rethrow()
    end
    if status != 0
        free!(options)
        retire_condition(cond)
        check(status, err)
    end
    sub = Subscription(out[], b, String(subject), cond, options, NATSBridgeError[])
    lock(() -> push!(b.subscriptions, sub), b.lock)
    finalizer(finalize_subscription, sub)
    return sub
end

function Base.show(io::IO, s::Subscription)
    print(io, "NATSBridge.Subscription(", repr(s.subject), s.ptr == C_NULL ? ", closed)" : ")")
end

Base.isopen(s::Subscription) = s.ptr != C_NULL

function free_subscription!(s::Subscription)
    ptr, s.ptr = s.ptr, C_NULL
    ptr == C_NULL && return false
    # Waits for a running library callback; after it returns nothing
    # notifies `s.cond` any more.
    ccall((:nb_notify_subscription_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
    return true
end

"""
    close(sub)

Unsubscribes; waiting `take!` calls and iterations end. Idempotent.
"""
function Base.close(s::Subscription)
    free_subscription!(s) || return nothing
    lock(() -> filter!(x -> x !== s, s.bridge.subscriptions), s.bridge.lock)
    free!(s.options)
    poke(s.cond)          # wakes waiters, which then see the subscription closed
    retire_condition(s.cond; close_now = false)
    return nothing
end

function finalize_subscription(s::Subscription)
    # No task switch here: free the C side; the condition is closed by its
    # own finalizer, the handler service (if any) by its task.
    free_subscription!(s) || return nothing
    lock(() -> delete!(LIVE_CONDITIONS, s.cond), LIVE_LOCK)
    s.options.ptr == C_NULL ||
        ccall((:nb_receive_options_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), s.options.ptr)
    s.options.ptr = C_NULL
    s.options.service === nothing || detach!(s.options.service)
    return nothing
end

"""
One step: an envelope Dict, `nothing` when nothing is queued, or a thrown
decoding error; `:closed` once the subscription ended.
"""
function pop_envelope(s::Subscription)
    s.ptr == C_NULL && return :closed
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = ccall((:nb_notify_subscription_pop, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), s.ptr, out, err)
    if status != 0
        error = take_error(status, err[])
        error.kind === :CLOSED && return :closed
        throw(error)
    end
    return out[] == C_NULL ? nothing : take_envelope(out[])
end

"""
    take!(sub; timeout = Inf) -> Dict{String,Any}

The next envelope, waiting up to `timeout` seconds (`TIMEOUT` error after
that, `CLOSED` when the subscription ended). Waits on the subscription's
`AsyncCondition`, so other tasks run meanwhile.
"""
function Base.take!(s::Subscription; timeout::Real = Inf)
    deadline = time() + Float64(timeout)
    while true
        item = pop_envelope(s)
        item isa AbstractDict && return item
        item === :closed && throw(border_error(:CLOSED, "the subscription to $(repr(s.subject)) is closed"))
        if !wait_for(s.cond, deadline) && time() >= deadline
            item = pop_envelope(s)
            item isa AbstractDict && return item
            throw(border_error(:TIMEOUT, "no message on $(repr(s.subject)) within $(timeout) s"))
        end
    end
end

function Base.iterate(s::Subscription, state = nothing)
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

Base.IteratorSize(::Type{Subscription}) = Base.SizeUnknown()
Base.eltype(::Type{Subscription}) = Dict{String,Any}
