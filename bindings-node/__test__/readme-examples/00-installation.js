const { smartsend, smartreceive } = require('natsbridge');
