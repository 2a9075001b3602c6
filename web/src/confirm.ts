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
    // Focus returns to the button that asked (Escape included); if the
    // screen was redrawn meanwhile (a save's answer arriving), to the
    // button with its id in the new drawing.
    const back = document.activeElement as HTMLElement | null;
    const backID = back?.id;
    dialog.addEventListener('close', () => {
      dialog.remove();
      (back?.isConnected ? back : backID ? document.getElementById(backID) : null)?.focus();
      done();
    });
    document.body.append(dialog);
    dialog.showModal();
    (dialog.querySelector('#confirm-no') as HTMLElement).focus();
  });
}
