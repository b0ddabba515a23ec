# tiny_space.sh - sourced by the shell tests: `tiny_space` prints the
# supernet, mutators and data sections of a tiny search space over the
# bundled data (3 * 3 * 2 = 18 subnets, seconds to train); each test adds
# its own train and search sections.
tiny_space() {
    cat <<CONF
supernet = { input = { channels = 1; height = 28; width = 28; }; classes = 10;
  stem = { channels = 8; stride = 2; };
  stages = ( { blocks = 2; channels = 16; stride = 2;
               ops = ["shuffle_3x3", "shuffle_5x5", "shuffle_xception"]; },
             { blocks = 1; channels = 16; stride = 1; ops = ["shuffle_3x3", "shuffle_7x7"]; } );
  last = { channels = 32; }; };
mutators = ( { type = "OneShotModuleMutator"; } );
data = { dir = "$srcdir/data"; train_images = 2000; val_images = 500; calib_images = 200; };
threads = 2;
CONF
}
