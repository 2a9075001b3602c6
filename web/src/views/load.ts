// Reading what a view shows, or saying in the view why it cannot.
import { call, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t } from '../i18n';

/** GET path; on failure the view shows title and the error, and undefined is returned. */
export async function loadOr<T>(main: HTMLElement, title: string, path: string): Promise<T | undefined> {
  try {
    return await call<T>('GET', path);
  } catch (err) {
    fill(main, h('h1', {}, title), h('p', { role: 'alert' }, err instanceof ApiError ? apiMessage(err) : t('error.generic')));
    return undefined;
  }
}
