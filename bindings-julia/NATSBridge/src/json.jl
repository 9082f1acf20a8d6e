# JSON through the core: dictionary payloads, metadata and envelopes are
# parsed by the core's parser (`nb_json_parse`, then typed accessors walk the
# tree) and written by the core's serializer (`nb_json_writer_*`). This
# package holds no JSON text codec of its own; it only maps Julia values to
# the writer's calls and the parsed tree to Julia values:
#
#   JSON     Julia (read)          Julia (written)
#   object   Dict{String,Any}      AbstractDict (String/Symbol keys), NamedTuple
#   array    Vector{Any}           AbstractVector, Tuple
#   string   String                AbstractString, Symbol, Char
#   integer  Int64 (UInt64 above)  Integer (Bool excluded)
#   number   Float64               AbstractFloat (NaN, Inf: SERIALIZATION error)
#   bool     Bool                  Bool
#   null     nothing               nothing, missing

const JSON_NULL, JSON_BOOL, JSON_INT, JSON_UINT, JSON_FLOAT, JSON_STRING, JSON_ARRAY, JSON_OBJECT =
    Int32(0), Int32(1), Int32(2), Int32(3), Int32(4), Int32(5), Int32(6), Int32(7)

"Parses JSON text with the core's parser into Julia values (see the table above)."
function parse_json(text::Union{String,Vector{UInt8}})
    root = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    status = GC.@preserve text ccall((:nb_json_parse, libnatsbridge), Int32,
                                     (Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
                                     pointer(text), sizeof(text), root, err)
    check(status, err)
    try
        return json_value(root[])
    finally
        ccall((:nb_json_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), root[])
    end
end

parse_json(text::AbstractString) = parse_json(String(text))
parse_json(ptr::Ptr{UInt8}, len::Integer) = parse_json(unsafe_wrap(Vector{UInt8}, ptr, len))

"""
An empty `Dict{String,Any}` with room for `n` entries without a rehash.
Julia 1.5's `sizehint!` takes a slot count (and rehashes at two thirds full);
later versions take an entry count: `2n` is enough for both.
"""
dict_for(n::Integer) = n <= 10 ? Dict{String,Any}() : sizehint!(Dict{String,Any}(), 2 * Int(n))
# (A new Dict has 16 slots and grows at the 11th entry, in 1.5 as in 1.10.)

"""
    from_template(template) -> Dict{String,Any}

A new Dict with the keys of `template` already in place (its `copy`: no
hashing, no growth), for the caller to set every value of. Envelope Dicts
always have the same members, and filling an empty Dict would allocate its
tables twice (a new Dict's 16 slots, then the larger tables that more than
10 entries need).
"""
from_template(template::Dict{String,Any}) = copy(template)

"A template for `from_template`: `keys` with placeholder values, room for `room` entries."
function template(keys, room::Integer)
    dict = dict_for(room)
    for key in keys
        dict[key] = nothing
    end
    return dict
end

"""
The member names of envelopes and payload descriptions: an object key equal
to one of them is this shared String, not a new copy for every message.
"""
const KNOWN_KEYS = ("correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose",
                    "sender_name", "sender_id", "receiver_name", "receiver_id", "reply_to",
                    "reply_to_msg_id", "broker_url", "version", "metadata", "payloads", "id",
                    "dataname", "type", "transport", "encoding", "size", "data", "sha256")

"""
Values that recur in every envelope (payload types, transports, the
encoding): shared like `KNOWN_KEYS`.
"""
const KNOWN_VALUES = ("text", "dictionary", "table", "image", "audio", "video", "binary",
                      "direct", "link", "base64")

"""
`len` bytes at `ptr` as a String: one of `known` when equal to it (Strings are
immutable, so sharing one is safe), `""` when empty, else a copy.
"""
function shared_string(ptr::Ptr{UInt8}, len::Integer, known)
    len > 0 || return ""
    first = unsafe_load(ptr)
    for candidate in known
        sizeof(candidate) == len && codeunit(candidate, 1) == first &&
            ccall(:memcmp, Cint, (Ptr{UInt8}, Ptr{UInt8}, Csize_t), candidate, ptr, len) == 0 &&
            return candidate
    end
    return unsafe_string(ptr, len)
end

"""
The last value of each envelope header field, per thread: most header fields
(`send_to`, `sender_name`, `sender_id`, `broker_url`, ...) repeat from one
message to the next, so a field equal to its last value is that same String
(immutable, so safe to share) instead of a new copy. Slots 1-12 are the sent
envelope's fields in `HEADER_FIELDS`' order, 13-24 the received one's. One
vector of slots per thread (filled by `__init__`), used only by code that
does not yield between reading `threadid()` and storing, so no two tasks
share a vector at once; a thread beyond them (an interactive thread of later
Julia versions) copies every value.
"""
const RECENT = Vector{Vector{String}}()

const SENT_SLOTS, RECEIVED_SLOTS = 0, 12

function init_recent_strings()
    empty!(RECENT)
    for _ in 1:Threads.nthreads()
        push!(RECENT, fill("", 24))
    end
end

"`len` bytes at `ptr` as a String: slot `slot`'s last value when equal to it (see `RECENT`)."
function recent_string(slot::Int, ptr::Ptr{UInt8}, len::Integer)
    len > 0 || return ""
    tid = Threads.threadid()
    tid <= length(RECENT) || return unsafe_string(ptr, len)
    slots = @inbounds RECENT[tid]
    last = @inbounds slots[slot]
    sizeof(last) == len &&
        ccall(:memcmp, Cint, (Ptr{UInt8}, Ptr{UInt8}, Csize_t), last, ptr, len) == 0 && return last
    text = unsafe_string(ptr, len)
    @inbounds slots[slot] = text
    return text
end

"An object key from the core's tree (`len` bytes at `ptr`) as a String."
object_key(ptr::Ptr{UInt8}, len::Integer) = shared_string(ptr, len, KNOWN_KEYS)

function json_value(v::Ptr{Cvoid})
    kind = ccall((:nb_json_kind, libnatsbridge), Int32, (Ptr{Cvoid},), v)
    if kind == JSON_NULL
        return nothing
    elseif kind == JSON_BOOL
        return ccall((:nb_json_bool, libnatsbridge), Bool, (Ptr{Cvoid},), v)
    elseif kind == JSON_INT
        return ccall((:nb_json_int64, libnatsbridge), Int64, (Ptr{Cvoid},), v)
    elseif kind == JSON_UINT
        return ccall((:nb_json_uint64, libnatsbridge), UInt64, (Ptr{Cvoid},), v)
    elseif kind == JSON_FLOAT
        return ccall((:nb_json_float64, libnatsbridge), Float64, (Ptr{Cvoid},), v)
    elseif kind == JSON_STRING
        len = Ref{Csize_t}(0)
        ptr = ccall((:nb_json_string, libnatsbridge), Ptr{UInt8}, (Ptr{Cvoid}, Ref{Csize_t}), v, len)
        return shared_string(ptr, len[], KNOWN_VALUES)
    elseif kind == JSON_ARRAY
        n = ccall((:nb_json_len, libnatsbridge), Csize_t, (Ptr{Cvoid},), v)
        items = Vector{Any}(undef, n)
        for i in 1:n
            items[i] = json_value(ccall((:nb_json_array_get, libnatsbridge), Ptr{Cvoid},
                                        (Ptr{Cvoid}, Csize_t), v, i - 1))
        end
        return items
    else
        n = ccall((:nb_json_len, libnatsbridge), Csize_t, (Ptr{Cvoid},), v)
        dict = dict_for(n)
        len = Ref{Csize_t}(0)
        for i in 1:n
            kptr = ccall((:nb_json_object_key, libnatsbridge), Ptr{UInt8},
                         (Ptr{Cvoid}, Csize_t, Ref{Csize_t}), v, i - 1, len)
            key = object_key(kptr, len[])
            dict[key] = json_value(ccall((:nb_json_object_value, libnatsbridge), Ptr{Cvoid},
                                         (Ptr{Cvoid}, Csize_t), v, i - 1))
        end
        return dict
    end
end

"A JSON writer of the core, used by `to_json`."
mutable struct JSONWriter
    ptr::Ptr{Cvoid}
    err::Ref{Ptr{Cvoid}}
end

function step!(w::JSONWriter, status::Int32)
    check(status, w.err)
end

"""
    to_json(value) -> String

JSON text of a Julia value (see the table above), written by the core's
serializer. Values of other types fail with a `SERIALIZATION` error naming
the type.
"""
function to_json(value)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:nb_json_writer_new, libnatsbridge), Int32, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
                out, err), err)
    w = JSONWriter(out[], err)
    try
        write_json!(w, value)
        text = Ref{Ptr{UInt8}}(C_NULL)
        step!(w, ccall((:nb_json_writer_finish, libnatsbridge), Int32,
                       (Ptr{Cvoid}, Ptr{Ptr{UInt8}}, Ptr{Ptr{Cvoid}}), w.ptr, text, w.err))
        result = unsafe_string(text[])
        ccall((:nb_string_free, libnatsbridge), Cvoid, (Ptr{UInt8},), text[])
        return result
    finally
        ccall((:nb_json_writer_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), w.ptr)
    end
end


write_json!(w::JSONWriter, ::Nothing) =
    step!(w, ccall((:nb_json_writer_null, libnatsbridge), Int32, (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), w.ptr, w.err))
write_json!(w::JSONWriter, ::Missing) = write_json!(w, nothing)
write_json!(w::JSONWriter, b::Bool) =
    step!(w, ccall((:nb_json_writer_bool, libnatsbridge), Int32, (Ptr{Cvoid}, Bool, Ptr{Ptr{Cvoid}}),
                   w.ptr, b, w.err))
function write_json!(w::JSONWriter, i::Integer)
    if typemin(Int64) <= i <= typemax(Int64)
        step!(w, ccall((:nb_json_writer_int64, libnatsbridge), Int32,
                       (Ptr{Cvoid}, Int64, Ptr{Ptr{Cvoid}}), w.ptr, Int64(i), w.err))
    elseif 0 <= i <= typemax(UInt64)
        step!(w, ccall((:nb_json_writer_uint64, libnatsbridge), Int32,
                       (Ptr{Cvoid}, UInt64, Ptr{Ptr{Cvoid}}), w.ptr, UInt64(i), w.err))
    else
        throw(border_error(:SERIALIZATION, "the integer $(i) does not fit a JSON number (64 bits)"))
    end
end
write_json!(w::JSONWriter, x::AbstractFloat) =
    step!(w, ccall((:nb_json_writer_float64, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Float64, Ptr{Ptr{Cvoid}}), w.ptr, Float64(x), w.err))
write_json!(w::JSONWriter, x::Rational) = write_json!(w, Float64(x))
function write_json!(w::JSONWriter, s::AbstractString)
    s = String(s)
    GC.@preserve s step!(w, ccall((:nb_json_writer_string, libnatsbridge), Int32,
                                  (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}),
                                  w.ptr, pointer(s), sizeof(s), w.err))
end
write_json!(w::JSONWriter, s::Union{Symbol,Char}) = write_json!(w, string(s))
function write_json!(w::JSONWriter, items::Union{AbstractVector,Tuple})
    step!(w, ccall((:nb_json_writer_begin_array, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), w.ptr, w.err))
    for item in items
        write_json!(w, item)
    end
    step!(w, ccall((:nb_json_writer_end_array, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), w.ptr, w.err))
end
function write_key!(w::JSONWriter, key)
    key isa Union{AbstractString,Symbol} ||
        throw(border_error(:SERIALIZATION, "a JSON object key must be a String or Symbol, not $(typeof(key))"))
    k = String(string(key))
    GC.@preserve k step!(w, ccall((:nb_json_writer_key, libnatsbridge), Int32,
                                  (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}),
                                  w.ptr, pointer(k), sizeof(k), w.err))
end
function write_json!(w::JSONWriter, members::Union{AbstractDict,NamedTuple})
    step!(w, ccall((:nb_json_writer_begin_object, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), w.ptr, w.err))
    for (key, value) in pairs(members)
        write_key!(w, key)
        write_json!(w, value)
    end
    step!(w, ccall((:nb_json_writer_end_object, libnatsbridge), Int32,
                   (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), w.ptr, w.err))
end
write_json!(w::JSONWriter, x) =
    throw(border_error(:SERIALIZATION, "a value of type $(typeof(x)) has no JSON form"))
