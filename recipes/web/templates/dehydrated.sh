# Managed by chaton: how dehydrated obtains and renews this server's certificates.
# Read by /etc/dehydrated/config (Debian's), which sets the folders and domains.txt.
CA={{ params.acme_directory | shell_quote }}
{%- if params.acme_email %}
CONTACT_EMAIL={{ params.acme_email | shell_quote }}
{%- elif organisation.contact and organisation.contact.email %}
CONTACT_EMAIL={{ organisation.contact.email | shell_quote }}
{%- endif %}
KEY_ALGO=prime256v1
# The ACME account's key: elliptic too where dehydrated knows the setting (0.7.1, Debian 13);
# Debian 12's dehydrated makes it RSA of KEYSIZE bits, which only the account key uses here
# (KEY_ALGO above). 4096 bits, the default, took 1.7 s of the first apply to generate;
# 2048 bits is what Let's Encrypt's own client uses for accounts.
ACCOUNT_KEY_ALGO=prime256v1
KEYSIZE=2048
# Renew when fewer days than this are left (certificates last 45 to 90 days).
RENEW_DAYS={{ params.renew_days }}
HOOK=/usr/local/lib/chaton/acme-hook
HOOK_CHAIN=no
{%- if params.acme_ca_certificate %}
# The ACME directory's own certificate comes from this CA (a private or test CA).
export CURL_CA_BUNDLE=/etc/dehydrated/acme-ca.pem
{%- endif %}
# dehydrated asks the CA again after fixed pauses: 1 s while a challenge is being checked,
# 2 s while an order is being issued. Both are mostly over within a fraction of a second,
# and every certificate waits through both. Ask first after 0.1 s, then 0.25 s, then at
# dehydrated's own pace: on the lab's CA the first ask finds both done, 0.4 s sooner per
# certificate than with 0.25 s and 0.5 s. (dehydrated is bash and sources this file: its
# `sleep` calls run this function. Its only calls are those two polls.)
sleep() {
  [ "$1" = "${chaton_poll_pause:-}" ] || { chaton_poll_pause=$1; chaton_polls=0; }
  case $chaton_polls in
    0) command sleep 0.1 ;;
    1) command sleep 0.25 ;;
    *) command sleep "$1" ;;
  esac
  chaton_polls=$((chaton_polls + 1))
}
