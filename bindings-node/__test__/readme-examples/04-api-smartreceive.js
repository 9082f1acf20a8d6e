const { smartreceive } = require('natsbridge');
const envelope = await smartreceive(
msg, // NATS message
{
fileserverDownloadHandler: customDownloadHandler,
maxRetries: 5,
baseDelay: 100,
maxDelay: 5000
}
);
// Returns: Object with envelope metadata and payloads array
