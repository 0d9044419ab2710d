// "A secret was masked": the marker on a message whose body the server masked before it
// stored it (docs/protocol.md, "Masked secrets"). Staff see that a key or password was
// given and of which kind — never the value, which the server did not keep.

import { h } from "/static/shared/dom.js";

// The kinds of chat/secrets_mask.py (KINDS), as people name them.
const LABELS = {
  private_key: "private key", aws_key: "AWS key", stripe_key: "Stripe key", github_token: "GitHub token",
  gitlab_token: "GitLab token", slack_token: "Slack token", jwt: "JSON Web Token", basic_auth: "login and password",
  bearer_token: "bearer token", openai_key: "OpenAI key", pypi_token: "PyPI token", sendgrid_key: "SendGrid key",
  twilio_key: "Twilio key", telegram_token: "Telegram bot token", discord_token: "Discord token",
  mailchimp_key: "Mailchimp key", square_token: "Square token", azure_key: "Azure storage key",
  artifactory_token: "Artifactory token", password_pair: "password", secret_pair: "API key or token",
  card_number: "card number",
};

export function maskedLabel(kinds) {
  return kinds.map((k) => LABELS[k] || k.replace(/_/g, " ")).join(", ");
}

// The marker for an event's data, or null when nothing was masked.
export function maskedMarker(data) {
  const kinds = (data && Array.isArray(data.masked) && data.masked) || [];
  if (!kinds.length) return null;
  const text = `${kinds.length > 1 ? "secrets were" : "a secret was"} masked: ${maskedLabel(kinds)}`;
  return h("div", { class: "masked", "data-testid": "masked", title: "The server masked it before storing: the full value was never kept" },
    `🔒 ${text}`);
}
