// Java's own HTTP client (HttpURLConnection) with an Authenticator, as a Java tool
// sends an app token: it answers only a Basic challenge, with __token__ and the token.
// Run as `java TokenClient.java URL TOKEN`; prints what it was asked and what it got.
import java.io.InputStream;
import java.net.Authenticator;
import java.net.HttpURLConnection;
import java.net.PasswordAuthentication;
import java.net.URL;

public class TokenClient {
    public static void main(String[] args) throws Exception {
        final String token = args[1];
        Authenticator.setDefault(new Authenticator() {
            protected PasswordAuthentication getPasswordAuthentication() {
                System.out.println("asked scheme=" + getRequestingScheme());
                return new PasswordAuthentication("__token__", token.toCharArray());
            }
        });
        HttpURLConnection connection = (HttpURLConnection) new URL(args[0]).openConnection();
        int status = connection.getResponseCode();
        System.out.println("status=" + status + " url=" + connection.getURL());
        InputStream body = status < 400 ? connection.getInputStream() : connection.getErrorStream();
        System.out.println(new String(body.readAllBytes()));
    }
}
