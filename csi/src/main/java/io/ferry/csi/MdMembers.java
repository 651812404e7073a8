package io.ferry.csi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * An md array's members as sysfs lists them ({@code <sys>/block/mdN/md/dev-<member>/state}), each
 * known by its kernel name, and which of them is a given leg. Reading only: no command, no write, so
 * it needs none of {@link MirrorArrays}' one-at-a-time order.
 */
final class MdMembers {

    private final SysBlock block;

    MdMembers(SysBlock block) {
        this.block = block;
    }

    /** The array's members by kernel name, each with the flags of its {@code state}. */
    Map<String, Set<String>> of(Path md) {
        Map<String, Set<String>> members = new LinkedHashMap<>();
        Path dir = block.dir(md.getFileName().toString()).resolve("md");
        try (Stream<Path> entries = Files.list(dir)) {
            entries.map(e -> e.getFileName().toString()).filter(n -> n.startsWith("dev-")).sorted().forEach(n -> {
                String state = SysBlock.read(dir.resolve(n).resolve("state"));
                members.put(n.substring("dev-".length()), state == null ? Set.of() : Set.of(state.split(",")));
            });
        } catch (IOException e) {
            return members;
        }
        return members;
    }

    /** Whether md lists a member it failed, which it keeps until removed (its device may be gone). */
    boolean hasFailed(Path md) {
        return of(md).values().stream().anyMatch(flags -> flags.contains("faulty"));
    }

    /** The kernel name of the array's member that is {@code device}, if it is one. */
    Optional<String> memberOf(Path md, Path device) {
        return kernelName(device).filter(name -> Files.isDirectory(memberDir(md, name)));
    }

    /**
     * The kernel name of the array's member that is a namespace of one of the NVMe subsystems
     * {@code nqns}, read from the member's {@code device/subsysnqn} (the controller's, or with native
     * multipath the subsystem's): found also when the subsystem's export is gone.
     */
    Optional<String> memberOf(Path md, List<String> nqns) {
        for (Map.Entry<String, Set<String>> member : of(md).entrySet()) {
            String nqn = SysBlock.read(block.dir(member.getKey()).resolve("device/subsysnqn"));
            if (nqn != null && nqns.contains(nqn)) {
                return Optional.of(member.getKey());
            }
        }
        return Optional.empty();
    }

    /** A leg device gone while it was looked at (its controller given up) is no device. */
    Optional<String> kernelName(Path device) {
        try {
            return Optional.of(block.kernelNameOf(device));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private Path memberDir(Path md, String kernelName) {
        return block.dir(md.getFileName().toString()).resolve("md").resolve("dev-" + kernelName);
    }
}
