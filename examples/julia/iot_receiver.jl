# Example 5 of the original design, the Julia receiver of the MicroPython IoT
# device (examples/micropython/iot_device.py): prints its temperature and humidity.
#
#   JULIA_LOAD_PATH=bindings-julia:@stdlib NATS_URL=nats://localhost:4222 IOT_ID=1 julia examples/julia/iot_receiver.jl
using NATSBridge

let
    device = get(ENV, "IOT_ID", "1")
    bridge = Bridge(get(ENV, "NATS_URL", "nats://localhost:4222"))
    sensors = subscribe(bridge, "/device/sensors/$device")
    flush(bridge)
    println("listening on /device/sensors/$device")
    flush(stdout)
    envelope = take!(sensors; timeout = 120)
    seen = Dict{String,Any}()
    for (dataname, data, type) in envelope["payloads"]
        if dataname == "temperature"
            println("Temperature: $data")
        elseif dataname == "humidity"
            println("Humidity: $data")
        end
        seen[dataname] = data
    end
    seen == Dict("temperature" => "25.5", "humidity" => 65) || error("unexpected telemetry $seen")
    close(sensors)
    close(bridge)
    println("example ok: iot receiver (julia)")
end
