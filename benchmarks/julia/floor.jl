# The least work Julia itself must do per message of the text case, with no
# library call at all: build the two Dicts the API returns (the sent
# envelope of `smartsend`, the received one of `take!`) with the same shape,
# every String copied from C memory (the real code shares a header string
# equal to its last value, so it copies fewer). run.sh prints it beside the
# benchmark's Julia - C difference. It is Julia's thread's CPU time: in the
# benchmark it overlaps the library's threads (publishing, decoding) on the
# other core, so C's time plus it is not a bound on Julia's time.
#
#   julia floor.jl [N]      prints "floor us_per_message" (thread CPU time)
const HEADER = ("correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose",
                "sender_name", "sender_id", "receiver_name", "receiver_id", "reply_to",
                "reply_to_msg_id", "broker_url")
const SOURCE = Vector{UInt8}(repeat("0123456789abcdef", 128))
copied(n) = GC.@preserve SOURCE unsafe_string(pointer(SOURCE), n)

function thread_cpu_ns()
    ts = Ref{NTuple{2,Int}}((0, 0))
    ccall(:clock_gettime, Cint, (Cint, Ref{NTuple{2,Int}}), 3, ts)   # CLOCK_THREAD_CPUTIME_ID
    return ts[][1] * 1_000_000_000 + ts[][2]
end

"The members both envelopes have (header strings, version, metadata), in a Dict with room for `slots`."
function header_dict(slots)
    d = sizehint!(Dict{String,Any}(), slots)
    for k in HEADER
        d[k] = copied(36)
    end
    d["version"] = 1
    d["metadata"] = Dict{String,Any}()
    return d
end

# As smartsend returns it: 14 members, one payload object of 8 (its base64
# data 1,368 characters for 1 KiB).
function sent()
    d = header_dict(28)
    p = sizehint!(Dict{String,Any}(), 16)
    p["id"] = copied(36); p["dataname"] = copied(1); p["type"] = copied(4)
    p["transport"] = copied(6); p["encoding"] = copied(6); p["size"] = 1024
    p["data"] = copied(1368); p["metadata"] = Dict{String,Any}()
    d["payloads"] = Any[p]
    return d
end

# As take! returns it: 12 header strings, version, metadata, subject, the
# payload tuple (the 1 KiB text) and its info Dict.
function received()
    d = header_dict(38)
    d["subject"] = copied(16)
    d["payloads"] = [(copied(1), copied(1024), copied(4))]
    info = sizehint!(Dict{String,Any}(), 16)
    info["id"] = copied(36); info["dataname"] = copied(1); info["type"] = copied(4)
    info["transport"] = copied(6); info["size"] = 1024; info["sha256"] = nothing
    info["metadata"] = Dict{String,Any}(); info["file_path"] = nothing
    d["payload_info"] = [info]
    return d
end

function both(n)
    count = 0
    for _ in 1:n
        count += length(sent()) + length(received())
    end
    return count
end

n = isempty(ARGS) ? 200_000 : parse(Int, ARGS[1])
both(100)
best = Inf
for _ in 1:3
    GC.gc()
    start = thread_cpu_ns()
    both(n)
    global best = min(best, (thread_cpu_ns() - start) / n / 1000)
end
println("floor $(round(best, digits = 2))")
