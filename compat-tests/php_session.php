<?php
// php_session.php ID ROUNDS - PHP sessions stored by php-memcached (session.save_handler=
// memcached: binary protocol, ketama, locking, the "memc.sess.key." prefix, its own allocators
// on a caller-allocated handle): ROUNDS requests of one session, each counting up and
// writing 2 KB, then one read-only request and a second session destroyed.
// Part of omcache-rs. Licensed under the Apache License, Version 2.0.
$id = $argv[1];
$rounds = (int)$argv[2];
for ($i = 0; $i < $rounds; $i++) {
    session_id($id);
    if (!session_start()) { echo "session_start failed\n"; exit(1); }
    $_SESSION['count'] = ($_SESSION['count'] ?? 0) + 1;
    $_SESSION['blob'] = str_repeat(chr(65 + $_SESSION['count'] % 26), 2048);
    echo "request ", $i, ": count ", $_SESSION['count'], "\n";
    session_write_close();
}
session_id($id);
session_start(['read_and_close' => true]);
echo "read only: count ", $_SESSION['count'] ?? 'none', ", blob ", strlen($_SESSION['blob'] ?? ''),
     " bytes of ", substr($_SESSION['blob'] ?? '?', 0, 1), "\n";
session_id($id . "-gone");
session_start();
$_SESSION['x'] = 1;
session_write_close();
session_id($id . "-gone");
session_start();
echo "second session before destroy: ", json_encode($_SESSION), "\n";
session_destroy();
session_id($id . "-gone");
session_start(['read_and_close' => true]);
echo "second session after destroy: ", json_encode($_SESSION), "\n";
