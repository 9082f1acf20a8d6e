# Example 3 of the original design, table data (Arrow IPC): a column table
# (a NamedTuple of vectors; a DataFrame works the same way) sent on
# /data/analysis and received as a NamedTuple of columns.
#
#   JULIA_LOAD_PATH=bindings-julia:@stdlib NATS_URL=nats://localhost:4222 julia examples/julia/table.jl
using NATSBridge

let
    subject = "/data/analysis/julia-$(getpid())"
    df = (id = [1, 2, 3], name = ["Alice", "Bob", "Charlie"], score = [95, 88, 92])
    bridge = Bridge(get(ENV, "NATS_URL", "nats://localhost:4222"))
    inbox = subscribe(bridge, subject)
    smartsend(bridge, subject, [("students", df, "table")])
    envelope = take!(inbox; timeout = 30)
    dataname, table, type = envelope["payloads"][1]
    println("$dataname ($type): $(length(table.id)) rows, columns $(keys(table))")
    (table.id == df.id && table.name == df.name && table.score == df.score) || error("the table differs")
    close(inbox)
    close(bridge)
    println("example ok: table")
end
