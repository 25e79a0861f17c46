// The live feed: one EventSource on /api/events/stream for the whole console (browsers allow
// few connections per server), fanned out to whichever page listens. It keeps the latest
// health of every camera it has heard about.

export class LiveFeed {
  constructor(url = '/api/events/stream') {
    this.url = url;
    this.health = new Map();
    this.listeners = { event: new Set(), health: new Set(), state: new Set() };
    this.source = null;
    this.connected = false;
  }

  start() {
    if (this.source) return;
    this.source = new EventSource(this.url);
    this.source.addEventListener('open', () => this.setConnected(true));
    this.source.addEventListener('error', () => this.setConnected(false));
    this.source.addEventListener('event', (message) =>
      this.emit('event', JSON.parse(message.data)),
    );
    this.source.addEventListener('health', (message) => {
      const health = JSON.parse(message.data);
      this.health.set(health.camera_id, health);
      this.emit('health', health);
    });
  }

  stop() {
    this.source?.close();
    this.source = null;
    this.setConnected(false);
  }

  setConnected(connected) {
    if (this.connected === connected) return;
    this.connected = connected;
    this.emit('state', connected);
  }

  /** Listen to 'event', 'health' or 'state'; returns the function that stops listening. */
  on(kind, listener) {
    this.listeners[kind].add(listener);
    return () => this.listeners[kind].delete(listener);
  }

  emit(kind, data) {
    for (const listener of this.listeners[kind]) {
      try {
        listener(data);
      } catch (error) {
        console.error('live feed listener failed', error);
      }
    }
  }
}
