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
