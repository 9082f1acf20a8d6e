# Options: the ONE table of keyword names this package accepts, with the
# options object each belongs to, the C setter it maps onto, and how its
# Julia value is converted. Defaults are the core's (a keyword not given
# leaves the core's default in place); the lead checks these names against
# the core's option schema.
#
#   target   :send (nb_send_options), :receive (nb_receive_options),
#            :connect (nb_connect_options)
#   convert  :string, :string_or_nothing, :size, :u32, :ms (an integer of
#            milliseconds), :seconds (a Real number of seconds, sent as ms),
#            :bool, :json_object, :strings (one setter call per element),
#            :pairs (one call per (a, b) pair), :path, :handler, :special

"""
    OPTIONS

`keyword => (target, C setter, conversion)` for every keyword of
`smartsend`, `smartreceive`, `subscribe`, `request`, `reply` and `Bridge`.
"""
const OPTIONS = (
    # --- sends (smartsend, request, reply) -------------------------------
    size_threshold          = (:send, :nb_send_options_set_size_threshold, :size),
    correlation_id          = (:send, :nb_send_options_set_correlation_id, :string_or_nothing),
    msg_id                  = (:send, :nb_send_options_set_msg_id, :string_or_nothing),
    msg_purpose             = (:send, :nb_send_options_set_msg_purpose, :string),
    sender_name             = (:send, :nb_send_options_set_sender_name, :string),
    sender_id               = (:send, :nb_send_options_set_sender_id, :string_or_nothing),
    receiver_name           = (:send, :nb_send_options_set_receiver_name, :string),
    receiver_id             = (:send, :nb_send_options_set_receiver_id, :string),
    reply_to                = (:send, :nb_send_options_set_reply_to, :string),
    reply_to_msg_id         = (:send, :nb_send_options_set_reply_to_msg_id, :string),
    fileserver_url          = (:send, :nb_send_options_set_fileserver_url, :string_or_nothing),
    fileserver_token        = (:send, :nb_send_options_set_fileserver_token, :string_or_nothing),
    metadata                = (:send, :nb_send_options_set_metadata_json, :json_object),
    direct_sha256           = (:send, :nb_send_options_set_direct_sha256, :bool),
    jetstream               = (:send, :nb_send_options_set_jetstream, :bool),
    fileserverUploadHandler = (:send, :nb_send_options_set_upload_queue, :handler),
    # --- receives (smartreceive, subscribe, the reply of request) --------
    max_retries             = (:receive, :nb_receive_options_set_max_retries, :u32),
    base_delay              = (:receive, :nb_receive_options_set_base_delay_ms, :ms),
    max_delay               = (:receive, :nb_receive_options_set_max_delay_ms, :ms),
    download_timeout        = (:receive, :nb_receive_options_set_request_timeout_ms, :seconds),
    max_download_size       = (:receive, :nb_receive_options_set_max_download_size, :u64),
    allowed_origins         = (:receive, :nb_receive_options_add_allowed_origin, :strings),
    allow_private_addresses = (:receive, :nb_receive_options_set_allow_private_addresses, :bool),
    save_dir                = (:receive, :nb_receive_options_set_save_dir, :path),
    store_tokens            = (:receive, :nb_receive_options_add_store_token, :pairs),
    fileserverDownloadHandler = (:receive, :nb_receive_options_set_download_queue, :handler),
    # --- connections (Bridge, and the pooled connection of nats_url) -----
    name                    = (:connect, :nb_connect_options_set_name, :string),
    token                   = (:connect, :nb_connect_options_set_token, :string),
    user_password           = (:connect, :nb_connect_options_set_user_password, :pair),
    credentials_file        = (:connect, :nb_connect_options_set_credentials_file, :path),
    nkey                    = (:connect, :nb_connect_options_set_nkey, :string),
    tls_ca_files            = (:connect, :nb_connect_options_add_tls_ca_file, :strings),
    tls_client_cert         = (:connect, :nb_connect_options_set_tls_client_cert, :pair),
    require_tls             = (:connect, :nb_connect_options_set_require_tls, :bool),
    connect_timeout         = (:connect, :nb_connect_options_set_connect_timeout_ms, :seconds),
    request_timeout         = (:connect, :nb_connect_options_set_request_timeout_ms, :seconds),
    subscription_capacity   = (:connect, :nb_connect_options_set_subscription_capacity, :size),
    default_fileserver_url  = (:connect, :nb_connect_options_set_fileserver_url, :string),
    default_fileserver_token = (:connect, :nb_connect_options_set_fileserver_token, :string),
    object_store_bucket     = (:connect, :nb_connect_options_set_object_store_bucket, :string),
    object_store_ttl        = (:connect, :nb_connect_options_set_object_store_ttl_s, :u64),
)

"The keywords of one target, in table order."
option_names(target::Symbol) = [k for (k, v) in pairs(OPTIONS) if v[1] === target]

"""
An options object of the core being filled from keywords, with the handler
service its handler keyword started (if any).
"""
mutable struct OptionSet
    target::Symbol
    ptr::Ptr{Cvoid}
    service::Union{HandlerService,Nothing}
end

function new_options(target::Symbol)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = if target === :send
        ccall((:nb_send_options_new, libnatsbridge), Int32, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), out, err)
    elseif target === :receive
        ccall((:nb_receive_options_new, libnatsbridge), Int32, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), out, err)
    else
        ccall((:nb_connect_options_new, libnatsbridge), Int32, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), out, err)
    end
    check(status, err)
    return OptionSet(target, out[], nothing)
end

"Frees the options, then stops their handler service (in that order)."
function free!(set::OptionSet)
    if set.ptr != C_NULL
        if set.target === :send
            ccall((:nb_send_options_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), set.ptr)
        elseif set.target === :receive
            ccall((:nb_receive_options_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), set.ptr)
        else
            ccall((:nb_connect_options_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), set.ptr)
        end
        set.ptr = C_NULL
    end
    set.service === nothing || stop!(set.service)
    return nothing
end

function bad_option(key, message)
    throw(border_error(:INVALID_ARGUMENT, "keyword $(key): $(message)"))
end

"""
    call_setter(setter, options, shape, a = nothing, b = nothing)

Calls the C setter named `setter` on `options` with one or two values of the
given shape (`:str`, `:str2`, `:u32`, `:u64`, `:bool`, `:ptr`); size_t setters
are `:u64` (Csize_t is UInt64 on the 64-bit targets built).
"""
function call_setter(setter::Symbol, p::Ptr{Cvoid}, shape::Symbol, a = nothing, b = nothing)
    f = dlsym(NATSBridge_jll.libnatsbridge_handle, setter)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = if shape === :str
        ccall(f, Int32, (Ptr{Cvoid}, Cstring, Ptr{Ptr{Cvoid}}), p, a, err)
    elseif shape === :str2
        ccall(f, Int32, (Ptr{Cvoid}, Cstring, Cstring, Ptr{Ptr{Cvoid}}), p, a, b, err)
    elseif shape === :u32
        ccall(f, Int32, (Ptr{Cvoid}, UInt32, Ptr{Ptr{Cvoid}}), p, a, err)
    elseif shape === :u64
        ccall(f, Int32, (Ptr{Cvoid}, UInt64, Ptr{Ptr{Cvoid}}), p, a, err)
    elseif shape === :bool
        ccall(f, Int32, (Ptr{Cvoid}, Bool, Ptr{Ptr{Cvoid}}), p, a, err)
    else
        ccall(f, Int32, (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), p, a, err)
    end
    check(status, err)
end

function text_arg(key, value)
    value isa Union{AbstractString,Symbol} || bad_option(key, "expected a String, got $(typeof(value))")
    s = String(string(value))
    occursin('\0', s) && bad_option(key, "holds a NUL character")
    return s
end

function integer_arg(key, value, T)
    value isa Integer && !(value isa Bool) || bad_option(key, "expected an integer, got $(repr(value))")
    0 <= value <= typemax(T) || bad_option(key, "$(value) is out of range 0..$(typemax(T))")
    return T(value)
end

function apply!(set::OptionSet, key::Symbol, value)
    target, setter, conversion = OPTIONS[key]
    p = set.ptr
    if conversion === :string || conversion === :string_or_nothing || conversion === :path
        conversion !== :string && value === nothing && return
        call_setter(setter, p, :str, text_arg(key, value))
    elseif conversion === :size
        call_setter(setter, p, :u64, integer_arg(key, value, Csize_t))
    elseif conversion === :u32
        call_setter(setter, p, :u32, integer_arg(key, value, UInt32))
    elseif conversion === :u64 || conversion === :ms
        call_setter(setter, p, :u64, integer_arg(key, value, UInt64))
    elseif conversion === :seconds
        value isa Real && !(value isa Bool) && value >= 0 && isfinite(value) ||
            bad_option(key, "expected a number of seconds >= 0, got $(repr(value))")
        call_setter(setter, p, :u64, UInt64(round(value * 1000)))
    elseif conversion === :bool
        value isa Bool || bad_option(key, "expected true or false, got $(repr(value))")
        call_setter(setter, p, :bool, value)
    elseif conversion === :json_object
        value === nothing && return
        value isa Union{AbstractDict,NamedTuple} || bad_option(key, "expected a Dict, got $(typeof(value))")
        call_setter(setter, p, :str, to_json(value))
    elseif conversion === :strings
        value === nothing && return
        value isa Union{AbstractString,Symbol} && (value = [value])
        for item in value
            call_setter(setter, p, :str, text_arg(key, item))
        end
    elseif conversion === :pair || conversion === :pairs
        value === nothing && return
        items = conversion === :pair ? [value] : value
        for item in items
            length(item) == 2 || bad_option(key, "expected pairs of two strings, got $(repr(item))")
            a, b = item
            call_setter(setter, p, :str2, text_arg(key, a), text_arg(key, b))
        end
    elseif conversion === :handler
        value === nothing && return
        applicable(value, "", "", UInt8[]) || applicable(value, "", 0, 0, 0) ||
            bad_option(key, "expected a function, got $(typeof(value))")
        set.service === nothing || bad_option(key, "given twice")
        set.service = HandlerService(value, target === :send ? :upload : :download)
        call_setter(setter, p, :ptr, set.service.queue)
    else
        error("unknown conversion $(conversion) in OPTIONS")
    end
    return nothing
end

"""
    options_for(target, kwargs; allowed = (target,)) -> OptionSet

The options object of `target` filled from the keywords that belong to it.
Keywords of the other `allowed` targets are skipped (another object takes
them); any other keyword is an `INVALID_ARGUMENT` error naming the known
ones.
"""
function options_for(target::Symbol, kwargs; allowed = (target,))
    # No keyword of this target: NULL, the core's defaults (every C call
    # taking options accepts NULL), without making and freeing an object.
    any(k -> (e = get(OPTIONS, k, nothing); e === nothing || e[1] === target || !(e[1] in allowed)),
        keys(kwargs)) || return OptionSet(target, C_NULL, nothing)
    set = new_options(target)
    try
        for (key, value) in pairs(kwargs)
            entry = get(OPTIONS, key, nothing)
            if entry === nothing || !(entry[1] in allowed)
                known = join(sort!([string(k) for k in keys(OPTIONS) if OPTIONS[k][1] in allowed]), ", ")
                bad_option(key, "unknown here; known keywords: $(known)")
            end
            entry[1] === target && apply!(set, key, value)
        end
    catch
        free!(set)
        rethrow()
    end
    return set
end
