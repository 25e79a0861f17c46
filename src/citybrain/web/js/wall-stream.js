// Reads the live wall's multiplexed stream (/api/live/wall.mjpeg): one multipart response
// whose parts are JPEGs, each naming its camera in X-Camera-Id. One connection for the whole
// wall keeps within the browser's six connections per server.

const CRLF2 = [13, 10, 13, 10];

export class WallStream {
  /** onFrame(cameraId, blob) gets every new frame of the cameras asked for. */
  constructor(onFrame, onState = () => {}) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.controller = null;
    this.ids = [];
  }

  /** Stream these cameras (none: stop); a new set replaces the old connection. */
  show(ids) {
    const wanted = [...ids].sort((a, b) => a - b);
    if (wanted.join(',') === this.ids.join(',') && this.controller) return;
    this.stop();
    this.ids = wanted;
    if (wanted.length) this.run(wanted);
  }

  stop() {
    this.controller?.abort();
    this.controller = null;
    this.ids = [];
  }

  async run(ids) {
    const controller = new AbortController();
    this.controller = controller;
    const query = ids.map((id) => `camera=${id}`).join('&');
    try {
      const response = await fetch(`/api/live/wall.mjpeg?${query}`, {
        signal: controller.signal,
        credentials: 'same-origin',
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.onState(true);
      await this.read(response.body.getReader());
    } catch (error) {
      if (controller.signal.aborted) return;
      this.onState(false, error);
    }
    if (this.controller === controller && !controller.signal.aborted) {
      this.controller = null; // the server ended it: try again shortly
      setTimeout(() => {
        if (!this.controller && this.ids.join(',') === ids.join(',')) this.run(ids);
      }, 2000);
    }
  }

  async read(reader) {
    let buffer = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = concat(buffer, value);
      for (;;) {
        const part = nextPart(buffer);
        if (!part) break;
        buffer = buffer.subarray(part.end);
        this.onFrame(part.cameraId, new Blob([part.body], { type: 'image/jpeg' }));
      }
    }
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOf(buffer, pattern, from = 0) {
  outer: for (let i = from; i <= buffer.length - pattern.length; i += 1) {
    for (let j = 0; j < pattern.length; j += 1) {
      if (buffer[i + j] !== pattern[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** The first complete part in `buffer`: its camera, its JPEG bytes and where it ends. */
export function nextPart(buffer) {
  const headEnd = indexOf(buffer, CRLF2);
  if (headEnd < 0) return null;
  const head = new TextDecoder().decode(buffer.subarray(0, headEnd));
  const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1]);
  const cameraId = Number(/x-camera-id:\s*(\d+)/i.exec(head)?.[1]);
  const start = headEnd + 4;
  if (!Number.isFinite(length) || buffer.length < start + length) return null;
  return { cameraId, body: buffer.slice(start, start + length), end: start + length };
}
