// The cue on a new incident: a short tone (Web Audio, no sound file) and a flash of the
// header's badge, each of which the user can switch off; the tab's title counts unseen ones.

export class IncidentCue {
  constructor(prefs, badge) {
    this.prefs = prefs;
    this.badge = badge;
    this.unseen = 0;
    this.audio = null;
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && location.hash.startsWith('#/incidents')) this.seen();
    });
  }

  /** A new incident arrived. */
  ring(event) {
    const watching = !document.hidden && location.hash.startsWith('#/incidents');
    if (!watching) this.unseen += 1; // on the incidents page it is in plain sight
    this.render();
    if (this.prefs.get('flash')) {
      this.badge.classList.remove('flash');
      void this.badge.offsetWidth; // restart the animation
      this.badge.classList.add('flash');
    }
    if (this.prefs.get('sound')) this.beep();
    this.badge.title = `Newest: ${event.kind} on camera ${event.camera_id}`;
  }

  seen() {
    this.unseen = 0;
    this.render();
  }

  render() {
    this.badge.textContent = this.unseen ? `${this.unseen} new` : '';
    this.badge.hidden = this.unseen === 0;
    document.title = this.unseen ? `(${this.unseen}) citybrain` : 'citybrain';
  }

  beep() {
    try {
      this.audio ??= new AudioContext();
      const oscillator = this.audio.createOscillator();
      const gain = this.audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, this.audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, this.audio.currentTime + 0.35);
      oscillator.connect(gain).connect(this.audio.destination);
      oscillator.start();
      oscillator.stop(this.audio.currentTime + 0.35);
    } catch {
      // no audio device: the visual cue remains
    }
  }
}
