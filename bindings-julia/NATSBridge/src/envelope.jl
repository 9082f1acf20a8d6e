# Payloads going out (Julia values -> `nb_send_payload` descriptors) and
# envelopes coming in (`nb_envelope` -> a Dict{String,Any}).
#
#   type                          Julia value sent              received as
#   text                          AbstractString                String
#   dictionary                    see json.jl                   Dict/Vector/number/Bool/nothing
#   table                         see tables.jl                 NamedTuple of column vectors
#   image, audio, video, binary   AbstractVector{UInt8}         Vector{UInt8}
#   (a type wire v1 does not define is refused by the core with UNKNOWN_TYPE;
#   one received from a newer sender arrives as Vector{UInt8})

"""
    Msg(data; subject = "", reply = "")

A NATS message body with its subject and reply inbox, for `smartreceive`
(for instance one read with another NATS client). `smartreceive` also takes
the body alone, as a `Vector{UInt8}` or a `String`.
"""
struct Msg
    subject::String
    reply::String
    data::Vector{UInt8}
end

Msg(data::AbstractVector{UInt8}; subject = "", reply = "") = Msg(subject, reply, Vector{UInt8}(data))
Msg(data::AbstractString; subject = "", reply = "") = Msg(subject, reply, Vector{UInt8}(codeunits(data)))

message_bytes(msg::Msg) = msg.data
message_bytes(msg::Vector{UInt8}) = msg
message_bytes(msg::AbstractVector{UInt8}) = Vector{UInt8}(msg)
message_bytes(msg::AbstractString) = Vector{UInt8}(codeunits(String(msg)))
message_bytes(msg) = throw(border_error(:INVALID_ARGUMENT,
    "smartreceive takes a NATSBridge.Msg, a Vector{UInt8} or a String body, not a $(typeof(msg))"))

"The descriptors of a send and what must stay alive (and be freed) around the call."
mutable struct OutgoingPayloads
    descriptors::Vector{SendPayload}
    roots::Vector{Any}
    tables::Vector{Ptr{Cvoid}}
end

function free!(out::OutgoingPayloads)
    for table in out.tables
        ccall((:nb_table_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), table)
    end
    empty!(out.tables)
    return nothing
end

function c_text(out::OutgoingPayloads, s::AbstractString, what)
    text = String(s)
    occursin('\0', text) && throw(border_error(:INVALID_ARGUMENT, "$(what) holds a NUL character"))
    push!(out.roots, text)
    return pointer(text)
end

"Turns `(dataname, data, type)` tuples into descriptors for the C call."
function outgoing(data)
    data isa Union{AbstractVector,Tuple} || throw(border_error(:INVALID_ARGUMENT,
        "data must be a vector of (dataname, data, type) tuples, not a $(typeof(data))"))
    out = OutgoingPayloads(SendPayload[], Any[], Ptr{Cvoid}[])
    try
        for item in data
            (item isa Union{Tuple,AbstractVector} && length(item) == 3) || throw(border_error(
                :INVALID_ARGUMENT, "each payload is a (dataname, data, type) tuple; got $(repr(item))"))
            dataname, value, type = item
            dataname isa AbstractString || throw(border_error(:INVALID_ARGUMENT,
                "a dataname must be a String, got $(typeof(dataname))"))
            type isa Union{AbstractString,Symbol} || throw(border_error(:INVALID_ARGUMENT,
                "a payload type must be a String, got $(typeof(type))"; dataname = dataname))
            type = String(string(type))
            name_ptr = c_text(out, dataname, "a dataname")
            type_ptr = c_text(out, type, "a payload type")
            bytes_ptr, len, table = Ptr{UInt8}(C_NULL), 0, Ptr{Cvoid}(C_NULL)
            if type == "table"
                table = build_table(value; dataname = dataname)
                push!(out.tables, table)
            else
                bytes = payload_bytes(type, value, dataname)
                push!(out.roots, bytes)
                bytes_ptr, len = pointer(bytes), sizeof(bytes)
            end
            push!(out.descriptors, SendPayload(name_ptr, type_ptr, bytes_ptr, len, C_NULL, table, C_NULL))
        end
    catch
        free!(out)
        rethrow()
    end
    return out
end

"The payload types whose value is bytes."
const BYTE_TYPES = ("image", "audio", "video", "binary")

"The bytes of a non-table payload, per its type. Type names are checked by the core."
function payload_bytes(type::String, value, dataname)
    if type == "text"
        value isa AbstractString || throw(border_error(:INVALID_ARGUMENT,
            "a text payload must be a String, got $(typeof(value))"; dataname = dataname))
        return String(value)
    elseif type == "dictionary"
        return to_json(value)
    elseif value isa AbstractVector{UInt8}
        return value isa Vector{UInt8} ? value : Vector{UInt8}(value)
    elseif type in BYTE_TYPES
        throw(border_error(:INVALID_ARGUMENT,
            "a $(type) payload must be a Vector{UInt8} (e.g. read(path)), got a $(typeof(value))";
            dataname = dataname))
    else
        # A type wire v1 does not define: the core refuses it (UNKNOWN_TYPE).
        return UInt8[]
    end
end

# ------------------------------------------------------------------ receiving

"The header fields of wire v1 an envelope Dict carries (plus version, metadata, payloads)."
const HEADER_FIELDS = ("correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose",
                       "sender_name", "sender_id", "receiver_name", "receiver_id", "reply_to",
                       "reply_to_msg_id", "broker_url")

"`nb_string_view`: a string owned by an envelope, with its length."
struct StringView
    ptr::Ptr{UInt8}
    len::Csize_t
end

const HeaderViews = NTuple{length(HEADER_FIELDS),StringView}

"A metadata JSON object text (a C string) as a Dict; the usual `{}` without a parse."
function metadata_dict(ptr::Ptr{UInt8})
    unsafe_load(ptr, 1) == UInt8('{') && unsafe_load(ptr, 2) == UInt8('}') &&
        unsafe_load(ptr, 3) == 0x00 && return Dict{String,Any}()
    return parse_json(unsafe_string(ptr))
end

"Sets `dict`'s header members from `n` views in `HEADER_FIELDS`' order, through `RECENT`'s `slots`."
function set_header!(dict::Dict{String,Any}, fields::HeaderViews, n::Integer, slots::Int)
    for i in 1:min(Int(n), length(HEADER_FIELDS))
        dict[HEADER_FIELDS[i]] = recent_string(slots + i, fields[i].ptr, fields[i].len)
    end
    return dict
end

"The members every received envelope Dict has; room for subject and the two reply entries."
const RECEIVED_TEMPLATE = template((HEADER_FIELDS..., "version", "metadata", "payloads", "payload_info"),
                                   length(HEADER_FIELDS) + 7)

"""
    envelope_dict(envelope_handle) -> Dict{String,Any}

A received envelope as a Dict: every header field of wire v1 (strings),
`"version"`, `"metadata"` (a Dict), `"subject"` (when it came from a
subscription), and `"payloads"`: `(dataname, data, type)` tuples in order.
`"payload_info"` holds, per payload, its id, transport, size, sha256,
metadata and (with `save_dir`) file path.
"""
function envelope_dict(env::Ptr{Cvoid})
    dict = from_template(RECEIVED_TEMPLATE)
    # Every header string in one call, in HEADER_FIELDS' order.
    views = Ref{HeaderViews}()
    n = ccall((:nb_envelope_header_strings, libnatsbridge), Csize_t,
              (Ptr{Cvoid}, Ref{HeaderViews}, Csize_t), env, views, length(HEADER_FIELDS))
    set_header!(dict, views[], n, RECEIVED_SLOTS)
    dict["version"] = Int(ccall((:nb_envelope_version, libnatsbridge), UInt32, (Ptr{Cvoid},), env))
    dict["metadata"] = metadata_dict(ccall((:nb_envelope_metadata_json, libnatsbridge),
                                           Ptr{UInt8}, (Ptr{Cvoid},), env))
    subject = cstring_or_nothing(ccall((:nb_envelope_subject, libnatsbridge), Ptr{UInt8},
                                       (Ptr{Cvoid},), env))
    subject === nothing || (dict["subject"] = subject)
    n = ccall((:nb_envelope_payload_count, libnatsbridge), Csize_t, (Ptr{Cvoid},), env)
    payloads = Vector{Tuple{String,Any,String}}(undef, n)
    infos = Vector{Dict{String,Any}}(undef, n)
    view = Ref(PayloadView())
    err = Ref{Ptr{Cvoid}}(C_NULL)
    for i in 1:n
        check(ccall((:nb_envelope_payload, libnatsbridge), Int32,
                    (Ptr{Cvoid}, Csize_t, Ref{PayloadView}, Ptr{Ptr{Cvoid}}), env, i - 1, view, err), err)
        v = view[]
        dataname = unsafe_string(v.dataname)
        type = shared_string(v.type, ccall(:strlen, Csize_t, (Ptr{UInt8},), v.type), KNOWN_VALUES)
        file_path = cstring_or_nothing(v.file_path)
        value = if file_path !== nothing
            file_path
        elseif type == "text"
            unsafe_string(v.data, v.len)
        elseif type == "dictionary"
            parse_json(v.data, v.len)
        elseif type == "table"
            out = Ref{Ptr{Cvoid}}(C_NULL)
            check(ccall((:nb_envelope_payload_table, libnatsbridge), Int32,
                        (Ptr{Cvoid}, Csize_t, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), env, i - 1, out, err), err)
            try
                read_table(out[])
            finally
                ccall((:nb_table_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), out[])
            end
        else
            copy(unsafe_wrap(Array, v.data, v.len; own = false))
        end
        payloads[i] = (dataname, value, type)
        info = dict_for(8)
        info["id"] = unsafe_string(v.id)
        info["dataname"] = dataname
        info["type"] = type
        info["transport"] = shared_string(v.transport, ccall(:strlen, Csize_t, (Ptr{UInt8},), v.transport),
                                          KNOWN_VALUES)
        info["size"] = Int(v.size)
        info["sha256"] = cstring_or_nothing(v.sha256)
        info["metadata"] = metadata_dict(v.metadata_json)
        info["file_path"] = file_path
        infos[i] = info
    end
    dict["payloads"] = payloads
    dict["payload_info"] = infos
    return dict
end

# ------------------------------------------------------------------ the sent envelope

"`nb_sent_envelope_view`: the envelope-level facts of a completed send."
struct SentEnvelopeView
    version::UInt32
    payload_count::Csize_t
    has_metadata::Bool
end

"`nb_sent_payload_view`: one payload of a completed send, as views."
struct SentPayloadView
    id::StringView
    dataname::StringView
    type::StringView
    transport::StringView
    encoding::StringView
    data::StringView
    sha256::StringView
    size::UInt64
    has_metadata::Bool
end

"The members of the Dict `smartsend` returns (`sent_envelope_dict`)."
const SENT_TEMPLATE = template((HEADER_FIELDS..., "version", "metadata", "payloads"), length(HEADER_FIELDS) + 3)

const EMPTY_VIEW = StringView(C_NULL, 0)
SentPayloadView() = SentPayloadView(EMPTY_VIEW, EMPTY_VIEW, EMPTY_VIEW, EMPTY_VIEW, EMPTY_VIEW,
                                    EMPTY_VIEW, EMPTY_VIEW, 0, false)

known_string(v::StringView) = shared_string(v.ptr, v.len, KNOWN_VALUES)

"""
    sent_envelope_dict(pending) -> Dict{String,Any}

The envelope a completed pending send published, as the Dict its JSON parses
to: `"version"`, the 12 header strings, `"metadata"`, and `"payloads"`
(Dicts with `id`, `dataname`, `type`, `transport`, `encoding`, `size`,
`sha256` when present, `data` and `metadata`). Built from the views of
`nb_pending_send_envelope`, `nb_pending_send_header_strings` and
`nb_pending_send_payload`; an envelope with metadata (its own or a
payload's) is read through the core's JSON tree instead
(`sent_envelope_tree`), which gives the same Dict.
"""
function sent_envelope_dict(pending::Ptr{Cvoid})
    err = Ref{Ptr{Cvoid}}(C_NULL)
    envelope = Ref(SentEnvelopeView(0, 0, false))
    check(ccall((:nb_pending_send_envelope, libnatsbridge), Int32,
                (Ptr{Cvoid}, Ref{SentEnvelopeView}, Ptr{Ptr{Cvoid}}), pending, envelope, err), err)
    e = envelope[]
    e.has_metadata && return sent_envelope_tree(pending)
    payloads = Vector{Any}(undef, e.payload_count)
    view = Ref(SentPayloadView())
    for i in 1:e.payload_count
        check(ccall((:nb_pending_send_payload, libnatsbridge), Int32,
                    (Ptr{Cvoid}, Csize_t, Ref{SentPayloadView}, Ptr{Ptr{Cvoid}}), pending, i - 1, view, err),
              err)
        v = view[]
        v.has_metadata && return sent_envelope_tree(pending)
        payload = dict_for(9)   # 16 slots: no growth
        payload["id"] = unsafe_string(v.id.ptr, v.id.len)
        payload["dataname"] = unsafe_string(v.dataname.ptr, v.dataname.len)
        payload["type"] = known_string(v.type)
        payload["transport"] = known_string(v.transport)
        payload["encoding"] = known_string(v.encoding)
        payload["size"] = v.size <= typemax(Int64) ? Int64(v.size) : v.size
        v.sha256.ptr == C_NULL || (payload["sha256"] = unsafe_string(v.sha256.ptr, v.sha256.len))
        payload["data"] = unsafe_string(v.data.ptr, v.data.len)
        payload["metadata"] = Dict{String,Any}()
        payloads[i] = payload
    end
    dict = from_template(SENT_TEMPLATE)
    dict["version"] = Int(e.version)
    views = Ref{HeaderViews}()
    count = ccall((:nb_pending_send_header_strings, libnatsbridge), Csize_t,
                  (Ptr{Cvoid}, Ref{HeaderViews}, Csize_t), pending, views, length(HEADER_FIELDS))
    set_header!(dict, views[], count, SENT_SLOTS)
    dict["metadata"] = Dict{String,Any}()
    dict["payloads"] = payloads
    return dict
end

"""
A received envelope kept for `reply`: the core answers a request from the
envelope itself (its reply_to or NATS inbox, msg_id, correlation_id). Freed
by its finalizer.
"""
mutable struct ReplyHandle
    ptr::Ptr{Cvoid}
    function ReplyHandle(ptr::Ptr{Cvoid})
        handle = new(ptr)
        finalizer(free!, handle)
        return handle
    end
end

function free!(handle::ReplyHandle)
    ptr, handle.ptr = handle.ptr, C_NULL
    ptr == C_NULL || ccall((:nb_envelope_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), ptr)
    return nothing
end

"""
Converts an envelope handle to its Dict and frees it, unless it can be
answered: then the Dict's `"reply_handle"` keeps it for `reply` and its
`"reply_subject"` says where the answer goes.
"""
function take_envelope(env::Ptr{Cvoid})
    dict = try
        envelope_dict(env)
    catch
        ccall((:nb_envelope_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), env)
        rethrow()
    end
    reply_subject = cstring_or_nothing(ccall((:nb_envelope_reply_subject, libnatsbridge), Ptr{UInt8},
                                             (Ptr{Cvoid},), env))
    if reply_subject === nothing
        ccall((:nb_envelope_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), env)
    else
        dict["reply_subject"] = reply_subject
        dict["reply_handle"] = ReplyHandle(env)
    end
    return dict
end
