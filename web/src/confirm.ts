// Asking before an action that is hard to undo (revoke a key, suspend an
// organisation, pause or close a listing): a modal <dialog> with the
// question, focus on Cancel, Escape cancels, focus returns to the button.
import { h } from './dom';
import { t } from './i18n';

/** A button that asks first, in a modal dialog (focus kept inside, Escape cancels). */
export function confirmThen(text: string, yes: string, act: () => Promise<void>): Promise<void> {
  return new Promise((done) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-text' },
      h('p', { id: 'confirm-text' }, text),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary danger', id: 'confirm-yes', onclick: async () => { dialog.close(); await act(); done(); } }, yes),
        h('button', { type: 'button', id: 'confirm-no', onclick: () => { dialog.close(); done(); } }, t('admin.cancel'))));
    const back = document.activeElement as HTMLElement | null; // focus returns there (Escape included)
    dialog.addEventListener('close', () => { dialog.remove(); if (back?.isConnected) back.focus(); done(); });
    document.body.append(dialog);
    dialog.showModal();
    (dialog.querySelector('#confirm-no') as HTMLElement).focus();
  });
}
