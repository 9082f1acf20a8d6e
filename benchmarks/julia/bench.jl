# The Julia side of the benchmark (see run.sh): the same work as bench.c,
# through a Bridge: N smartsends on one connection, then N take!s from a
# subscription of the same connection; building the payload (a NamedTuple of
# 10,000 rows) and reading the value (the text; every table column as a
# Julia vector) are included.
#
#   julia bench.jl NATS_URL N_TEXT N_TABLE
# prints one line per case: "case messages seconds us_per_message".
using NATSBridge

const ROWS = 10_000

function run_case(bridge, label, n, table::Bool)
    subject = "/bench/julia/$(label)"
    sub = subscribe(bridge, subject)
    text = "x"^1024
    ids = collect(0:ROWS-1)
    values = [i * 0.5 for i in 0:ROWS-1]
    names = ["name-$(i)" for i in 0:ROWS-1]
    check = 0
    start = time_ns()
    for i in 1:n
        data = table ? [("p", (id = ids, value = values, name = names), "table")] : [("p", text, "text")]
        smartsend(bridge, subject, data)
    end
    for i in 1:n
        env = take!(sub; timeout = 30)
        value = env["payloads"][1][2]
        check += table ? sum(value.id) + sum(sizeof, value.name) : sizeof(value)
    end
    seconds = (time_ns() - start) / 1e9
    println("$(label) $(n) $(round(seconds, digits = 4)) $(round(seconds / n * 1e6, digits = 1))")
    println(stderr, "julia $(label) check $(check)")
    close(sub)
end

url, n_text, n_table = ARGS[1], parse(Int, ARGS[2]), parse(Int, ARGS[3])
bridge = Bridge(url)
# Warm-up, untimed, as bench.c does: a full run of each case compiles every
# method the timed loops use and grows the heap and the allocator's arenas
# to their steady size.
run_case(bridge, "warmup_text", n_text, false)
run_case(bridge, "warmup_table", n_table, true)
run_case(bridge, "text_1KiB", n_text, false)
run_case(bridge, "table_10000_rows", n_table, true)
close(bridge)
