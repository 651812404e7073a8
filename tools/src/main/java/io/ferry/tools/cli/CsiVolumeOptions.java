package io.ferry.tools.cli;

import picocli.CommandLine.Option;

/**
 * The options that name what a {@code ferryctl csi} call is about, each declared once and mixed into
 * every command that takes it, so that the option reads and behaves the same in all of them.
 */
final class CsiVolumeOptions {

    private CsiVolumeOptions() {
    }

    /** The volume every volume call names. */
    static final class VolumeId {
        @Option(names = "--volume-id", required = true)
        String id;
    }

    /** Where node-stage mounts the volume, and node-unstage and node-publish find it. */
    static final class StagingPath {
        @Option(names = "--staging-path", required = true, description = "absolute path on the plugin's node")
        String path;
    }

    /** Where node-publish puts the volume and node-unpublish removes it. */
    static final class TargetPath {
        @Option(names = "--target-path", required = true)
        String path;
    }

    /** The size an expansion asks for, in ferryctl's size syntax. */
    static final class RequiredBytes {
        @Option(names = "--required-bytes", required = true, paramLabel = "SIZE", description = "e.g. 128Mi, 2Gi, 1073741824")
        String size;

        long bytes() {
            return CsiCommands.bytes("--required-bytes", size);
        }
    }
}
