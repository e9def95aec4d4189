// Uploads one file to a tus 1.0 server with tus-js-client (the client Marquee's web app will use), as the
// control API tests' real tus client. Prints one JSON line: {"url", "offset", "asset_id"}.
//
//   node tus-upload.mjs --endpoint URL --file PATH --token TOKEN [--chunk-size BYTES] [--stop-after BYTES]
//                       [--resume UPLOAD_URL] [--metadata key=value]...
//
// --stop-after aborts the upload once at least that many bytes are acknowledged (an interrupted upload);
// --resume continues the upload at UPLOAD_URL from where the server says it is (HEAD).
import fs from "node:fs";
import * as tus from "tus-js-client";

const args = process.argv.slice(2);
const options = { metadata: {} };
for (let i = 0; i < args.length; i += 2) {
  const [name, value] = [args[i], args[i + 1]];
  switch (name) {
    case "--endpoint": options.endpoint = value; break;
    case "--file": options.file = value; break;
    case "--token": options.token = value; break;
    case "--chunk-size": options.chunkSize = Number(value); break;
    case "--stop-after": options.stopAfter = Number(value); break;
    case "--resume": options.resume = value; break;
    case "--metadata": {
      const [key, ...rest] = value.split("=");
      options.metadata[key] = rest.join("=");
      break;
    }
    default: console.error(`unknown option ${name}`); process.exit(2);
  }
}

const size = fs.statSync(options.file).size;
let assetId = null;
// The whole file in memory: test clips are small, and a Buffer source can resume at any offset.
const upload = new tus.Upload(fs.readFileSync(options.file), {
  endpoint: options.endpoint,
  uploadUrl: options.resume ?? null,
  uploadSize: size,
  chunkSize: options.chunkSize ?? Infinity,
  metadata: options.metadata,
  headers: { Authorization: `Bearer ${options.token}` },
  retryDelays: [],
  storeFingerprintForResuming: false,
  uploadDataDuringCreation: false,
  onAfterResponse(req, res) {
    const id = res.getHeader("Marquee-Asset-Id");
    if (id) assetId = id;
  },
});

const done = new Promise((resolve, reject) => {
  upload.options.onError = reject;
  upload.options.onSuccess = () => resolve(size);
  upload.options.onChunkComplete = (_chunk, accepted) => {
    if (options.stopAfter !== undefined && accepted >= options.stopAfter && accepted < size) {
      upload.abort().then(() => resolve(accepted));
    }
  };
});
upload.start();
try {
  const offset = await done;
  console.log(JSON.stringify({ url: upload.url, offset, asset_id: assetId }));
} catch (error) {
  console.error(`upload failed: ${error.message ?? error}`);
  process.exit(1);
}
