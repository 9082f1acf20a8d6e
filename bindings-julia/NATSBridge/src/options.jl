# Options: derived from the core's option schema, never a table of our own.
#
# The keywords are the options of `core/src/schema.rs` (`docs/options.md`),
# read once from the library (`nb_option_schema_json`) and parsed by the
# core's JSON parser: the snake_case name of each connect, send, receive and
# consume option is its keyword. The one exception is the handler keywords, which
# keep the original design's names `fileserverUploadHandler` and
# `fileserverDownloadHandler`. A keyword's value is written as JSON
# (`to_json`, the core's writer) and set by name through
# `nb_<scope>_options_set_json`, so the core converts it by the option's
# kind and refuses a wrong one; options added to the schema later are
# keywords here with no edit. A keyword not given (or `nothing`) is not
# passed: the core's default applies. Durations are whole milliseconds.

"The handler keywords: the original design's camelCase names (the schema's `camel`)."
const HANDLER_SETTERS = Dict(:fileserverUploadHandler => :nb_send_options_set_upload_queue,
                             :fileserverDownloadHandler => :nb_receive_options_set_download_queue)

const SCHEMA = Ref{Any}(nothing)
const KEYWORDS = Ref{Any}(nothing)

"""
    option_schema() -> Vector{Any}

Every option of the core (`docs/options.json`'s `options`): Dicts with
`name`, `camel`, `scope`, `kind`, `unit`, `default` and `doc`. Read from the
library on first use.
"""
function option_schema()
    if SCHEMA[] === nothing
        text = unsafe_string(ccall((:nb_option_schema_json, libnatsbridge), Cstring, ()))
        SCHEMA[] = parse_json(text)["options"]
    end
    return SCHEMA[]
end

"""
    keywords() -> Dict{Symbol,Dict{Symbol,Dict{String,Any}}}

scope (`:connect`, `:send`, `:receive`, `:subscribe`, `:consume`) => keyword => its
schema row.
"""
function keywords()
    if KEYWORDS[] === nothing
        table = Dict{Symbol,Dict{Symbol,Dict{String,Any}}}()
        for row in option_schema()
            keyword = Symbol(row["kind"] == "callback" ? row["camel"] : row["name"])
            get!(table, Symbol(row["scope"]), Dict{Symbol,Dict{String,Any}}())[keyword] = row
        end
        KEYWORDS[] = table
    end
    return KEYWORDS[]
end

"The keywords of one scope (`:connect`, `:send`, `:receive`, `:subscribe`, `:consume`), sorted."
option_names(target::Symbol) = sort!(collect(keys(get(keywords(), target, Dict()))))

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
    elseif target === :consume
        ccall((:nb_consume_options_new, libnatsbridge), Int32, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), out, err)
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
        elseif set.target === :consume
            ccall((:nb_consume_options_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), set.ptr)
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

"The JSON text of keyword `key`'s value (a token map may also be pairs)."
function option_json(key, kind, value)
    if kind == "token_map" && value isa Union{AbstractVector,Tuple}
        all(item -> length(item) == 2, value) ||
            bad_option(key, "expected origin => token pairs, got $(repr(value))")
        value = Dict(String(string(first(item))) => last(item) for item in value)
    end
    try
        return to_json(value)
    catch err
        err isa NATSBridgeError || rethrow()
        bad_option(key, "takes $(kind), got a $(typeof(value))")
    end
end

"Sets option `name` of `set` to the JSON text `json` (`nb_<scope>_options_set_json`)."
function set_json!(set::OptionSet, name::AbstractString, json::AbstractString)
    setter = Symbol(:nb_, set.target, :_options_set_json)
    f = dlsym(NATSBridge_jll.libnatsbridge_handle, setter)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall(f, Int32, (Ptr{Cvoid}, Cstring, Cstring, Ptr{Ptr{Cvoid}}), set.ptr, name, json, err), err)
end

function apply!(set::OptionSet, key::Symbol, value)
    value === nothing && return nothing
    row = keywords()[set.target][key]
    if row["kind"] == "callback"
        applicable(value, "", "", UInt8[]) || applicable(value, "", 0, 0, 0) ||
            bad_option(key, "expected a function, got $(typeof(value))")
        set.service === nothing || bad_option(key, "given twice")
        set.service = HandlerService(value, set.target === :send ? :upload : :download)
        f = dlsym(NATSBridge_jll.libnatsbridge_handle, HANDLER_SETTERS[key])
        err = Ref{Ptr{Cvoid}}(C_NULL)
        check(ccall(f, Int32, (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}), set.ptr,
                    set.service.queue, err), err)
    else
        set_json!(set, row["name"], option_json(key, row["kind"], value))
    end
    return nothing
end

"Whether `scope` has keyword `key`."
has_keyword(key, scope) = haskey(get(keywords(), scope, Dict()), key)

"""
    options_for(target, kwargs; allowed = (target,)) -> OptionSet

The options object of `target` filled from the keywords that belong to it.
Keywords of the other `allowed` targets are skipped (another object takes
them); any other keyword is an `INVALID_ARGUMENT` error naming the known
ones.
"""
function options_for(target::Symbol, kwargs; allowed = (target,))
    for key in keys(kwargs)
        any(scope -> has_keyword(key, scope), allowed) && continue
        known = join(sort!(unique!(vcat([string.(option_names(s)) for s in allowed]...))), ", ")
        bad_option(key, "unknown here; known keywords: $(known)")
    end
    # No keyword of this target: NULL, the core's defaults (every C call
    # taking options accepts NULL), without making and freeing an object.
    any(key -> has_keyword(key, target), keys(kwargs)) || return OptionSet(target, C_NULL, nothing)
    set = new_options(target)
    try
        for (key, value) in pairs(kwargs)
            has_keyword(key, target) && apply!(set, key, value)
        end
    catch
        free!(set)
        rethrow()
    end
    return set
end
