-- Managed by chaton: Prosody's settings on this server. Each XMPP domain is a file of its
-- own in /etc/prosody/conf.d (chaton-SERVICE.cfg.lua); edits here are overwritten.

admins = { }
plugin_paths = { "/usr/local/lib/prosody/modules" }

modules_enabled = {
	"disco"; "roster"; "saslauth"; "tls"; "dialback"; "limits";
	"blocklist"; "bookmarks"; "carbons"; "pep"; "private"; "smacks";
	"vcard4"; "vcard_legacy"; "csi_simple"; "ping"; "time"; "uptime"; "version";
	-- Passwords changed from a client; nobody registers from one (below).
	"register";
	-- Each account's messages, for its other devices, for `archive_expires_after`.
	"mam";
	"admin_shell";
	"posix";
}

-- Accounts are made by the hoster (prosodyctl adduser).
allow_registration = false

-- Clients and other servers only over TLS, other servers' certificates checked.
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true
authentication = "internal_hashed"

{% if params.archive_days > 0 -%}
archive_expires_after = "{{ params.archive_days }}d"
{%- else -%}
archive_expires_after = "never"
{%- endif %}

limits = {
	c2s = { rate = "10kb/s"; };
	s2sin = { rate = "30kb/s"; };
}

pidfile = "/run/prosody/prosody.pid"

-- Warnings and errors only, to the system journal.
log = {
	{ levels = { min = "warn" }; to = "syslog"; };
}

certificates = "certs"

Include "conf.d/*.cfg.lua"
