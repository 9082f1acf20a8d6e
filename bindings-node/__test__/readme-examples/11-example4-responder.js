const { smartreceive, smartsend } = require('natsbridge');
const envelope = await smartreceive(msg);
for (const payload of envelope.payloads) {
if (payload.dataname === "command" && payload.data.action === "read_sensor") {
const response = { sensor_id: "sensor-001", value: 42.5 };
await smartsend("/device/response", [
{ dataname: "data", data: response, type: "dictionary" }
]);
}
}
