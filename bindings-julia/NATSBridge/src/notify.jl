# The only way library threads reach Julia: they queue an item and call
# `uv_async_send` on the handle of a `Base.AsyncCondition`; a Julia task
# waiting on that condition wakes up on Julia's thread and pops the items
# with non-blocking C calls (`nb_notify_subscription_pop`,
# `nb_handler_queue_pop`). No Julia code ever runs on a library thread.
#
# Lifetimes: a condition is kept in `LIVE_CONDITIONS` until the C object
# that notifies it is freed (freeing it guarantees no notify comes after),
# so the condition's own finalizer can never close its uv handle while the
# library may still signal it.

"The libuv function the library calls to wake Julia (thread-safe)."
uv_async_send_ptr() = cglobal(:uv_async_send)

const LIVE_CONDITIONS = IdDict{Base.AsyncCondition,Nothing}()
const LIVE_LOCK = ReentrantLock()

function new_condition()
    cond = Base.AsyncCondition()
    lock(() -> LIVE_CONDITIONS[cond] = nothing, LIVE_LOCK)
    return cond
end

"Forgets (and closes) a condition once nothing can notify it any more."
function retire_condition(cond::Base.AsyncCondition; close_now::Bool = true)
    lock(() -> delete!(LIVE_CONDITIONS, cond), LIVE_LOCK)
    close_now && close(cond)
    return nothing
end

"Wakes every task waiting on `cond` (the same signal the library sends)."
poke(cond::Base.AsyncCondition) =
    (cond.handle != C_NULL && ccall(:uv_async_send, Cint, (Ptr{Cvoid},), cond.handle); nothing)

"""
    wait_for(cond, deadline) -> Bool

Waits until `cond` is notified or `deadline` (a `time()` value; `Inf` waits
without limit) passes; `false` on timeout. A timer pokes the condition at the
deadline, so one wait serves both.
"""
function wait_for(cond::Base.AsyncCondition, deadline::Float64)
    remaining = deadline - time()
    remaining <= 0 && return false
    timer = isfinite(deadline) ? Timer(_ -> poke(cond), remaining) : nothing
    try
        wait(cond)
    catch err
        err isa EOFError && return false       # the condition was closed
        rethrow()
    finally
        timer === nothing || close(timer)
    end
    return time() < deadline
end

# ------------------------------------------------------------------ handlers

"""
A handler queue and the task that answers its requests with a Julia
function, for one send or receive (or one subscription).
"""
mutable struct HandlerService
    queue::Ptr{Cvoid}
    cond::Base.AsyncCondition
    handler::Any
    kind::Symbol              # :upload or :download
    exceptions::Vector{Any}   # what the handler threw, for the error's cause
    running::Bool
    detached::Bool            # stopped from a finalizer: the task frees the queue on exit
    task::Union{Task,Nothing}
end

const REQUEST_UPLOAD = Int32(1)
const REQUEST_DOWNLOAD = Int32(2)

function HandlerService(handler, kind::Symbol)
    cond = new_condition()
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = ccall((:nb_handler_queue_new, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
                   uv_async_send_ptr(), cond.handle, out, err)
    if status != 0
        retire_condition(cond)
        check(status, err)
    end
    service = HandlerService(out[], cond, handler, kind, Any[], true, false, nothing)
    service.task = @async serve(service)
    return service
end

function serve(service::HandlerService)
    while true
        while (request = ccall((:nb_handler_queue_pop, libnatsbridge), Ptr{Cvoid},
                               (Ptr{Cvoid},), service.queue)) != C_NULL
            answer(service, request)
        end
        service.running || break
        wait(service.cond)
    end
    if service.detached && service.queue != C_NULL
        ccall((:nb_handler_queue_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), service.queue)
        service.queue = C_NULL
        retire_condition(service.cond)
    end
end

"Runs the Julia handler for one request and answers it; never throws."
function answer(service::HandlerService, request::Ptr{Cvoid})
    status, bytes = try
        kind = ccall((:nb_handler_request_kind, libnatsbridge), Int32, (Ptr{Cvoid},), request)
        url = unsafe_string(ccall((:nb_handler_request_url, libnatsbridge), Cstring, (Ptr{Cvoid},),
                                  request))
        if kind == REQUEST_UPLOAD
            dataname = unsafe_string(ccall((:nb_handler_request_dataname, libnatsbridge), Cstring,
                                           (Ptr{Cvoid},), request))
            len = Ref{Csize_t}(0)
            ptr = ccall((:nb_handler_request_data, libnatsbridge), Ptr{UInt8},
                        (Ptr{Cvoid}, Ref{Csize_t}), request, len)
            # A copy: the handler may keep the bytes after the request is answered.
            data = copy(unsafe_wrap(Array, ptr, len[]; own = false))
            result = service.handler(url, dataname, data)
            (Int32(0), Vector{UInt8}(codeunits(upload_url(result))))
        else
            retries, base, maxd = Ref{UInt32}(0), Ref{UInt64}(0), Ref{UInt64}(0)
            ccall((:nb_handler_request_retries, libnatsbridge), Cvoid,
                  (Ptr{Cvoid}, Ref{UInt32}, Ref{UInt64}, Ref{UInt64}), request, retries, base, maxd)
            result = service.handler(url, Int(retries[]), Int(base[]), Int(maxd[]))
            (Int32(0), downloaded_bytes(result))
        end
    catch err
        push!(service.exceptions, err)
        (Int32(1), Vector{UInt8}(codeunits("the Julia $(service.kind) handler threw: " *
                                           sprint(showerror, err))))
    end
    GC.@preserve bytes ccall((:nb_handler_respond, libnatsbridge), Int32,
                             (Ptr{Cvoid}, Int32, Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}),
                             request, status, pointer(bytes), length(bytes), C_NULL)
    return nothing
end

"The URL an upload handler returned: a string, or a Dict with a \"url\"."
function upload_url(result)
    result isa AbstractString && return String(result)
    if result isa AbstractDict
        for key in ("url", :url)
            haskey(result, key) && return String(result[key])
        end
    end
    throw(ArgumentError("an upload handler must return the URL (a String, or a Dict with \"url\"); " *
                        "it returned a $(typeof(result))"))
end

function downloaded_bytes(result)
    result isa Vector{UInt8} && return result
    result isa AbstractVector{UInt8} && return Vector{UInt8}(result)
    result isa AbstractString && return Vector{UInt8}(codeunits(result))
    throw(ArgumentError("a download handler must return the payload's bytes (a Vector{UInt8}); " *
                        "it returned a $(typeof(result))"))
end

"""
Stops the service's task and frees its queue. Call only once no C call can
use the queue (the options it was attached to are freed).
"""
function stop!(service::HandlerService)
    service.queue == C_NULL && return nothing
    service.running = false
    poke(service.cond)
    service.task === nothing || wait(service.task)
    ccall((:nb_handler_queue_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), service.queue)
    service.queue = C_NULL
    retire_condition(service.cond)
    return nothing
end

"""
Stops the service from a finalizer (no task switch allowed there): its task
ends on its next wake-up and frees the queue itself. Call only once nothing
can use the queue.
"""
function detach!(service::HandlerService)
    service.detached = true
    service.running = false
    poke(service.cond)
    return nothing
end

"The first exception a handler threw, as the cause of a failed call."
first_cause(service::Union{HandlerService,Nothing}) =
    service === nothing || isempty(service.exceptions) ? nothing : service.exceptions[1]
