-- Managed by chaton for the service "{{ service.name }}": its XMPP domain.
VirtualHost "{{ service.domain }}"
	ssl = {
		certificate = "/etc/prosody/certs/{{ service.domain }}.crt";
		key = "/etc/prosody/certs/{{ service.domain }}.key";
	}
