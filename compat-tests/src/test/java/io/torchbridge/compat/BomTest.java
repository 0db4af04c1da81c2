package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * torchbridge-bom lists every artifact the build publishes, at the build's version: it has no
 * parent (so that it hands its users nothing else), so nothing else keeps the two in step.
 */
class BomTest {
    private static final Pattern ARTIFACT = Pattern.compile("<artifactId>(torchbridge-[a-z-]+)</artifactId>");

    @Test
    void theBomListsEveryPublishedModuleAtTheBuildsVersion() throws Exception {
        String bom = Files.readString(Repo.root().resolve("bom/pom.xml"));
        assertEquals(System.getProperty("torchbridge.version"), between(bom, "</artifactId>\n  <version>", "</version>"));
        TreeSet<String> listed = new TreeSet<>(artifacts(between(bom, "<dependencyManagement>", "</dependencyManagement>")));
        listed.remove("torchbridge-bom");

        TreeSet<String> published = new TreeSet<>();
        try (Stream<Path> poms = Files.list(Repo.root())) {
            for (Path dir : poms.filter(d -> Files.isRegularFile(d.resolve("pom.xml"))).toList()) {
                String pom = Files.readString(dir.resolve("pom.xml"));
                boolean skipped = pom.contains("<maven.deploy.skip>true</maven.deploy.skip>")
                        || pom.contains("<packaging>pom</packaging>");
                if (!dir.equals(Repo.root()) && !skipped) {
                    published.add(artifacts(pom.substring(pom.indexOf("</parent>"))).get(0));
                }
            }
        }
        assertEquals(published, listed);
    }

    private static String between(String s, String from, String to) {
        int i = s.indexOf(from) + from.length();
        return s.substring(i, s.indexOf(to, i));
    }

    private static List<String> artifacts(String xml) {
        List<String> out = new ArrayList<>();
        Matcher m = ARTIFACT.matcher(xml);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }
}
