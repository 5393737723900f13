# Managed by chaton: how dehydrated obtains and renews this server's certificates.
# Read by /etc/dehydrated/config (Debian's), which sets the folders and domains.txt.
CA={{ params.acme_directory | shell_quote }}
{%- if params.acme_email %}
CONTACT_EMAIL={{ params.acme_email | shell_quote }}
{%- elif organisation.contact and organisation.contact.email %}
CONTACT_EMAIL={{ organisation.contact.email | shell_quote }}
{%- endif %}
KEY_ALGO=prime256v1
# Renew when fewer days than this are left (certificates last 45 to 90 days).
RENEW_DAYS={{ params.renew_days }}
HOOK=/usr/local/lib/chaton/acme-hook
HOOK_CHAIN=no
{%- if params.acme_ca_certificate %}
# The ACME directory's own certificate comes from this CA (a private or test CA).
export CURL_CA_BUNDLE=/etc/dehydrated/acme-ca.pem
{%- endif %}
