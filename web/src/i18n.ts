// English and Dutch for every string the console shows. The catalogues are
// JSON (i18n/en.json, i18n/nl.json) so a test can compare them with the
// keys the source uses (internal/console/i18n_test.go); nl is typed by en's
// keys, so a key missing from Dutch also fails the type check.
import en from './i18n/en.json';
import nl from './i18n/nl.json';

export type Key = keyof typeof en;
export type Lang = 'en' | 'nl';
const catalogues: Record<Lang, Record<Key, string>> = { en, nl };

const stored = localStorage.getItem('sparc.lang');
let current: Lang = stored === 'nl' || stored === 'en' ? stored : navigator.language.toLowerCase().startsWith('nl') ? 'nl' : 'en';

export const lang = () => current;
/** The BCP 47 locale for Intl: the user's own region when it speaks the language. */
export const locale = () => (navigator.languages.find((l) => l.toLowerCase().startsWith(current)) ?? (current === 'nl' ? 'nl-NL' : 'en-GB'));

export function setLang(l: Lang) {
  current = l;
  localStorage.setItem('sparc.lang', l);
  document.documentElement.lang = l;
}

/** The text of key in the current language, {name} replaced from vars. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  return catalogues[current][key].replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

/** A label from the API's own bilingual vocabulary terms. */
export const label = (term: { label_en: string; label_nl: string } | undefined, code: string) =>
  term ? (current === 'nl' ? term.label_nl : term.label_en) : code;
