# The interop matrix's Julia driver: NATSBridge.jl (over libnatsbridge), one
# Bridge for the whole run, speaking the runner's JSON-lines protocol on
# stdin/stdout (tests/interop/README.md). JSON lines are read and written
# with the package's own JSON helpers (the core's parser and writer): Julia
# 1.5 has no JSON standard library.
using NATSBridge
using Base64
using SHA

const parse_json = NATSBridge.parse_json
const to_json = NATSBridge.to_json

const bridge = Bridge(ENV["NATS_URL"])
const fileserver_url = ENV["FILESERVER_URL"]
const subs = Dict{String,Any}()

send_options(transport) =
    transport == "link-http" ? (fileserver_url = fileserver_url, size_threshold = 1) :
    transport == "link-objstore" ? (size_threshold = 1,) : NamedTuple()

const COLUMN = Dict("int64" => Int64, "float64" => Float64, "bool" => Bool, "utf8" => String)

function spec_value(spec)
    kind = spec["type"]
    kind == "text" && return spec["text"]
    kind == "dictionary" && return spec["json"]
    if kind == "table"
        columns = spec["table"]["columns"]
        names = Tuple(Symbol(c["name"]) for c in columns)
        values = Tuple(convert(Vector{COLUMN[c["type"]]}, c["values"]) for c in columns)
        return NamedTuple{names}(values)
    end
    return base64decode(spec["b64"])
end

outgoing(specs) = [(s["dataname"], spec_value(s), s["type"]) for s in specs]

function canonical_type(T)
    T <: Bool && return "bool"
    T <: Int64 && return "int64"
    T <: Float64 && return "float64"
    T <: AbstractString && return "utf8"
    return string(T)
end

function canonical(envelope)
    out = Any[]
    for (dataname, value, kind) in envelope["payloads"]
        item = Dict{String,Any}("dataname" => dataname, "type" => kind)
        if kind == "text"
            item["text"] = value
        elseif kind == "dictionary"
            item["json"] = value
        elseif kind == "table"
            names = [String(n) for n in keys(value)]
            item["table"] = Dict{String,Any}(
                "schema" => [[n, canonical_type(eltype(getproperty(value, Symbol(n))))] for n in names],
                "columns" => Dict{String,Any}(n => [x isa AbstractString ? String(x) : x
                                                    for x in getproperty(value, Symbol(n))] for n in names))
        else
            item["sha256"] = bytes2hex(sha256(value))
            item["len"] = length(value)
        end
        push!(out, item)
    end
    return out
end

function take(op)
    sub = pop!(subs, op["subject"])
    try
        return take!(sub; timeout = op["timeout_ms"] / 1000)
    finally
        close(sub)
    end
end

function handle(op)
    kind = op["op"]
    if kind == "subscribe"
        subs[op["subject"]] = subscribe(bridge, op["subject"])
        flush(bridge)
        return Dict{String,Any}()
    elseif kind == "send"
        smartsend(bridge, op["subject"], outgoing(op["payloads"]); send_options(op["transport"])...)
        return Dict{String,Any}()
    elseif kind == "receive"
        return Dict{String,Any}("payloads" => canonical(take(op)))
    elseif kind == "request"
        answer = request(bridge, op["subject"], outgoing(op["payloads"]);
                         timeout = op["timeout_ms"] / 1000, send_options(op["transport"])...)
        return Dict{String,Any}("payloads" => canonical(answer))
    elseif kind == "answer"
        req = take(op)
        reply(bridge, req, collect(req["payloads"]); send_options(op["transport"])...)
        return Dict{String,Any}("payloads" => canonical(req))
    end
    error("unknown op $(kind)")
end

println(stdout, "{\"ready\":\"julia\"}")
flush(stdout)
while true
    line = readline(stdin)
    isempty(line) && break
    op = parse_json(line)
    op["op"] == "quit" && break
    result = try
        r = handle(op)
        r["ok"] = true
        r
    catch e
        Dict{String,Any}("ok" => false, "error" => sprint(showerror, e))
    end
    println(stdout, to_json(result))
    flush(stdout)
end
close(bridge)
