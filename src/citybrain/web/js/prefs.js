// Preferences of the signed-in user in localStorage, keyed by user name (never a credential):
// the live wall's layout, whether new incidents make a sound.

const DEFAULTS = { layout: 4, sound: true, flash: true };

export class Prefs {
  constructor(username) {
    this.key = `citybrain.prefs.${username}`;
    this.values = { ...DEFAULTS };
    try {
      Object.assign(this.values, JSON.parse(localStorage.getItem(this.key) || '{}'));
    } catch {
      // unreadable preferences: start from the defaults
    }
  }

  get(name) {
    return this.values[name];
  }

  set(name, value) {
    this.values[name] = value;
    try {
      localStorage.setItem(this.key, JSON.stringify(this.values));
    } catch {
      // storage full or disabled: the preference lasts for this page only
    }
  }
}
