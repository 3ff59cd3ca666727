// "Report a problem" about a facility or a point on the map: a short form posting to /feedback,
// with clear success and error messages. A retried submission of one form carries the same
// `client_id`, so it is stored once.

import { el, replace, fetchJson } from './dom.js';
import { t, facilityName } from './i18n.js';

export class FeedbackForm {
  /**
   * @param {HTMLDialogElement} dialog
   * @param {object} options  `feedback` of /assets/config.json: the server's kinds
   *   (`kinds_about_facility`, `kinds_about_place`) and limits (`max_message_chars`,
   *   `max_contact_chars`)
   */
  constructor(dialog, options) {
    this.dialog = dialog;
    this.options = options;
    dialog.addEventListener('click', (event) => {
      // A click on the backdrop (outside the form) closes the dialog.
      if (event.target === dialog) dialog.close();
    });
  }

  /** Opens the form about `facility` ({id, props, lon, lat}) or a `location` ({lon, lat}). */
  open({ facility = null, location = null }) {
    const { kinds_about_facility, kinds_about_place, max_message_chars, max_contact_chars } = this.options;
    const kinds = facility ? kinds_about_facility : kinds_about_place;
    const clientId = newClientId();
    const status = el('p', { className: 'form-status', role: 'status', 'aria-live': 'polite' });
    const kind = el(
      'select',
      { id: 'feedback-kind', name: 'kind', required: true },
      kinds.map((k) => el('option', { value: k }, t(`kind_${k}`))),
    );
    const message = el('textarea', {
      id: 'feedback-message',
      name: 'message',
      rows: '4',
      required: true,
      maxlength: String(max_message_chars),
      placeholder: t('feedback_message_placeholder'),
    });
    const contact = el('input', {
      id: 'feedback-contact',
      name: 'contact',
      type: 'text',
      maxlength: String(max_contact_chars),
      autocomplete: 'email',
    });
    const submit = el('button', { type: 'submit', className: 'primary', id: 'feedback-submit' }, t('feedback_submit'));
    const where = facility
      ? t('feedback_title_facility', { name: facilityName(facility.props) })
      : t('feedback_title_point');
    const form = el(
      'form',
      {
        method: 'dialog',
        // The page checks the fields itself, so its messages are in the page's language.
        novalidate: true,
        className: 'feedback-form',
        onsubmit: async (event) => {
          event.preventDefault();
          if (!message.value.trim()) {
            status.className = 'form-status error';
            status.textContent = t('feedback_message_required');
            message.focus();
            return;
          }
          const body = { kind: kind.value, message: message.value.trim(), client_id: clientId };
          if (facility) body.facility_id = facility.id;
          if (location) body.location = { lon: round6(location.lon), lat: round6(location.lat) };
          if (contact.value.trim()) body.contact = contact.value.trim();
          submit.disabled = true;
          status.className = 'form-status';
          status.textContent = t('feedback_sending');
          try {
            const { body: answer } = await fetchJson('/feedback', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify(body),
            });
            status.className = 'form-status ok';
            status.textContent = t('feedback_ok', { id: answer.id });
            status.dataset.feedbackId = String(answer.id);
            for (const field of [kind, message, contact]) field.disabled = true;
          } catch (error) {
            submit.disabled = false;
            status.className = 'form-status error';
            if (error.status === 429) status.textContent = t('feedback_rate_limited', { s: error.retryAfter || 60 });
            else if (error.status === 404 || error.status === 405) status.textContent = t('feedback_unavailable');
            else if (!error.status) status.textContent = t('feedback_network');
            else status.textContent = t('feedback_error', { error: error.message });
          }
        },
      },
      el('h2', {}, where),
      location
        ? el('p', { className: 'muted' }, t('feedback_location', { lon: location.lon.toFixed(5), lat: location.lat.toFixed(5) }))
        : null,
      el('label', { for: 'feedback-kind' }, t('feedback_kind')),
      kind,
      el('label', { for: 'feedback-message' }, t('feedback_message')),
      message,
      el('label', { for: 'feedback-contact' }, t('feedback_contact')),
      contact,
      status,
      el(
        'div',
        { className: 'form-actions' },
        el('button', { type: 'button', onclick: () => this.dialog.close() }, t('close')),
        submit,
      ),
    );
    replace(this.dialog, form);
    this.dialog.showModal();
    message.focus();
  }
}

function round6(v) {
  return Math.round(v * 1e6) / 1e6;
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
