<?php
// Values below come from checked fields (a domain name, a country code): no quote can
// reach them.
// Managed by chaton for the service "{{ service.name }}": edits here are overwritten.
// Nextcloud reads every *.config.php of its configuration folder (NEXTCLOUD_CONFIG_DIR,
// /etc/nextcloud); its own config.php holds what the installer wrote (secrets, instance).
$CONFIG = array (
  'trusted_domains' => array (
    0 => '{{ service.domain }}',
  ),
  'overwrite.cli.url' => 'https://{{ service.domain }}',
  'overwriteprotocol' => 'https',
  // User files live outside the web root.
  'datadirectory' => '/var/lib/nextcloud/data',
  // Apps from the app store go beside the release, so an upgrade replaces the release whole.
  'apps_paths' => array (
    0 => array ('path' => '/var/www/nextcloud/apps', 'url' => '/apps', 'writable' => false),
    1 => array ('path' => '/var/lib/nextcloud/apps', 'url' => '/custom_apps', 'writable' => true),
  ),
  'memcache.local' => '\OC\Memcache\APCu',
  'memcache.distributed' => '\OC\Memcache\Redis',
  'memcache.locking' => '\OC\Memcache\Redis',
  'redis' => array ('host' => '127.0.0.1', 'port' => 6379),
  'default_phone_region' => '{{ server.provider.country }}',
  // Background jobs that need quiet hours run from 01:00 UTC.
  'maintenance_window_start' => 1,
  // Logs: warnings and errors, rotated by logrotate and kept {{ params.log_retention_days }} days.
  'log_type' => 'file',
  'logfile' => '/var/log/nextcloud/nextcloud.log',
  'loglevel' => 2,
  'log_rotate_size' => 0,
  // Upgrades come from chaton (a new pinned version), with maintenance mode on.
  'updatechecker' => false,
  'upgrade.disable-web' => true,
  'skeletondirectory' => '',
);
