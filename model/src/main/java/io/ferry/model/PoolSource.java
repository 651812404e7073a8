package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where a pool's space comes from. Which fields are required depends on the engine and is checked
 * by {@link PoolConfig} ({@link #validateFor(Engine, boolean)}): {@code lvm} needs
 * {@code volumeGroup}; {@code lvm-thin} needs {@code volumeGroup} and {@code thinPool};
 * {@code spdk} needs {@code lvstore}; {@code file} needs an absolute {@code directory}.
 *
 * @param volumeGroup LVM volume group (lvm, lvm-thin)
 * @param thinPool    LVM thin pool LV inside {@code volumeGroup} (lvm-thin)
 * @param lvstore     SPDK lvstore name (spdk)
 * @param directory   absolute directory holding volume files (file)
 * @param devices     absolute block device paths the agent may use to create the volume group when
 *                    the pool sets {@code prepare} (lvm, lvm-thin)
 * @param bdev        SPDK base bdev on which the agent may create the lvstore when {@code prepare}
 *                    is set (spdk)
 */
public record PoolSource(String volumeGroup, String thinPool, String lvstore, String directory,
        List<String> devices, String bdev) {

    /** Names LVM and SPDK accept, minus a leading '-' (option injection) and anything shell-like. */
    private static final Pattern OBJECT_NAME = Pattern.compile("[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,126}");
    private static final int MAX_DEVICES = 64;

    public PoolSource {
        objectName(volumeGroup, "volumeGroup");
        objectName(thinPool, "thinPool");
        objectName(lvstore, "lvstore");
        objectName(bdev, "bdev");
        poolDirectory(directory);
        devices = Check.list(devices, "devices", MAX_DEVICES, Check::absolutePath);
    }

    /**
     * Directories a file pool may never use: the roots of the system's own trees, and anything
     * below the ones that hold the system or the kernel's views. A pool there would put volume
     * files among system files, and a pool directory is scanned, claimed and filled by the agent.
     */
    private static final Set<String> SYSTEM_ROOTS = Set.of("/", "/bin", "/boot", "/dev", "/etc",
            "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt", "/proc", "/root", "/run",
            "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/tmp", "/var/log", "/var/cache",
            "/var/run", "/var/spool", "/var/mail", "/var/opt", "/var/local", "/var/backups");
    private static final List<String> SYSTEM_TREES = List.of("/bin/", "/boot/", "/dev/", "/etc/", "/lib/",
            "/lib32/", "/lib64/", "/libx32/", "/proc/", "/sbin/", "/sys/", "/usr/", "/run/", "/var/log/",
            "/var/cache/", "/var/spool/", "/var/mail/");

    private static void poolDirectory(String directory) {
        Check.absolutePath(directory, "directory");
        if (directory == null) {
            return;
        }
        String dir = directory.length() > 1 && directory.endsWith("/")
                ? directory.substring(0, directory.length() - 1) : directory;
        if (SYSTEM_ROOTS.contains(dir)) {
            throw new ValidationException("directory", "directory: " + Names.quote(directory)
                    + " is a system directory; give a pool a directory of its own, such as /var/lib/ferry/<pool>");
        }
        for (String tree : SYSTEM_TREES) {
            if ((dir + "/").startsWith(tree)) {
                throw new ValidationException("directory", "directory: " + Names.quote(directory) + " lies under "
                        + tree + ", which belongs to the system; give a pool a directory of its own, such as"
                        + " /var/lib/ferry/<pool>");
            }
        }
    }

    @JsonCreator
    static PoolSource fromJson(
            @JsonProperty("volumeGroup") String volumeGroup,
            @JsonProperty("thinPool") String thinPool,
            @JsonProperty("lvstore") String lvstore,
            @JsonProperty("directory") String directory,
            @JsonProperty("devices") List<String> devices,
            @JsonProperty("bdev") String bdev) {
        return new PoolSource(volumeGroup, thinPool, lvstore, directory, devices, bdev);
    }

    /** An existing LVM volume group (engine {@code lvm}). */
    public static PoolSource volumeGroup(String volumeGroup) {
        return new PoolSource(volumeGroup, null, null, null, null, null);
    }

    /** An LVM thin pool {@code thinPool} in {@code volumeGroup} (engine {@code lvm-thin}). */
    public static PoolSource thinPool(String volumeGroup, String thinPool) {
        return new PoolSource(volumeGroup, thinPool, null, null, null, null);
    }

    /** An SPDK lvstore (engine {@code spdk}). */
    public static PoolSource lvstore(String lvstore) {
        return new PoolSource(null, null, lvstore, null, null, null);
    }

    /** A directory of volume files (engine {@code file}). */
    public static PoolSource directory(String directory) {
        return new PoolSource(null, null, null, directory, null, null);
    }

    /** This source with the devices the agent may prepare the volume group from. */
    public PoolSource withDevices(List<String> newDevices) {
        return new PoolSource(volumeGroup, thinPool, lvstore, directory, newDevices, bdev);
    }

    /** This source with the SPDK base bdev the agent may create the lvstore on. */
    public PoolSource withBdev(String newBdev) {
        return new PoolSource(volumeGroup, thinPool, lvstore, directory, devices, newBdev);
    }

    /**
     * Checks that exactly the fields the engine uses are set: a field meant for another engine is
     * almost always a mistake (a copied example, a wrong engine), so it is rejected, not ignored.
     */
    public void validateFor(Engine engine, boolean prepare) {
        boolean lvm = engine == Engine.LVM || engine == Engine.LVM_THIN;
        need(lvm, volumeGroup, "volumeGroup", engine);
        need(engine == Engine.LVM_THIN, thinPool, "thinPool", engine);
        need(engine == Engine.SPDK, lvstore, "lvstore", engine);
        need(engine == Engine.FILE, directory, "directory", engine);
        if (!devices.isEmpty() && !lvm) {
            throw new ValidationException("source.devices", "source.devices: only engines lvm and lvm-thin use"
                    + " devices; engine " + engine + " does not");
        }
        if (bdev != null && engine != Engine.SPDK) {
            throw new ValidationException("source.bdev", "source.bdev: only engine spdk uses a base bdev; engine "
                    + engine + " does not");
        }
        if (prepare && engine == Engine.LVM && devices.isEmpty()) {
            throw new ValidationException("source.devices", "source.devices: prepare is true but no devices are"
                    + " listed to create volume group " + volumeGroup + " from");
        }
        if (prepare && engine == Engine.SPDK && bdev == null) {
            throw new ValidationException("source.bdev", "source.bdev: prepare is true but no base bdev is given"
                    + " to create lvstore " + lvstore + " on");
        }
    }

    private static void need(boolean used, String value, String field, Engine engine) {
        if (used && value == null) {
            throw new ValidationException("source." + field, "source." + field + ": is required for engine "
                    + engine);
        }
        if (!used && value != null) {
            throw new ValidationException("source." + field, "source." + field + ": is not used by engine "
                    + engine + "; remove it or fix the engine");
        }
    }

    private static void objectName(String value, String field) {
        if (value != null && !OBJECT_NAME.matcher(value).matches()) {
            throw new ValidationException(field, field + ": " + Names.quote(value) + " is invalid: use 1-127"
                    + " letters, digits and _ . + -, not starting with '-' or '.'");
        }
        if (value != null && (value.equals(".") || value.equals("..") || value.contains(".."))) {
            throw new ValidationException(field, field + ": " + Names.quote(value) + " must not contain '..'");
        }
    }
}
