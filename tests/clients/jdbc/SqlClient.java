import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The SQL endpoint as JDBC tools (Metabase, Tableau, DBeaver) use it: DatabaseMetaData lists the
 * tables and their columns, and a PreparedStatement with parameters sums a market's year, which
 * must equal the GraphQL API's answer the calling test passes in.
 *
 * <pre>java -cp postgresql.jar SqlClient.java JDBC_URL TOKEN EXPECTED_DE_2024_UNITS WRONG_TOKEN</pre>
 */
public class SqlClient {
    private static int checks = 0;

    private static void check(boolean condition, String what) {
        if (!condition) {
            System.out.println("FAILED: " + what);
            System.exit(1);
        }
        checks++;
    }

    private static Connection connect(String url, String token) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", "tableau");
        properties.setProperty("password", token);
        return DriverManager.getConnection(url, properties);
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String token = args[1];
        long expectedUnits = Long.parseLong(args[2]);
        String wrongToken = args[3];

        try (Connection connection = connect(url, token)) {
            DatabaseMetaData metadata = connection.getMetaData();
            List<String> tables = new ArrayList<>();
            try (ResultSet rows = metadata.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rows.next()) {
                    tables.add(rows.getString("TABLE_NAME"));
                }
            }
            for (String table : new String[] {"sales", "sales_monthly", "car_models", "countries"}) {
                check(tables.contains(table), "getTables lists " + table + ": " + tables);
            }

            List<String> columns = new ArrayList<>();
            String soldOnType = null;
            try (ResultSet rows = metadata.getColumns(null, "public", "sales", "%")) {
                while (rows.next()) {
                    columns.add(rows.getString("COLUMN_NAME"));
                    if ("sold_on".equals(rows.getString("COLUMN_NAME"))) {
                        soldOnType = rows.getString("TYPE_NAME");
                    }
                }
            }
            for (String column : new String[] {"id", "sold_on", "model", "country", "units", "revenue"}) {
                check(columns.contains(column), "getColumns(sales) lists " + column + ": " + columns);
            }
            check("date".equals(soldOnType), "sold_on is a date: " + soldOnType);

            String sql = "SELECT SUM(units) FROM sales_monthly WHERE country = ? AND month >= ? AND month <= ?";
            try (PreparedStatement statement = connection.prepareStatement(sql)) {
                statement.setString(1, "DE");
                statement.setDate(2, Date.valueOf("2024-01-01"));
                statement.setDate(3, Date.valueOf("2024-12-31"));
                // Several runs: the driver switches to a server-side prepared statement after five.
                for (int run = 0; run < 7; run++) {
                    try (ResultSet rows = statement.executeQuery()) {
                        check(rows.next(), "a sum comes back");
                        long units = rows.getLong(1);
                        check(units == expectedUnits, "DE 2024 units " + units + " vs the API's " + expectedUnits);
                    }
                }
            }

            try (PreparedStatement statement =
                    connection.prepareStatement("SELECT id, sold_on, units FROM sales WHERE model = ? LIMIT 3")) {
                statement.setString(1, "X5");
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) {
                        check(rows.getDate("sold_on") != null && rows.getLong("units") > 0, "a typed row");
                    }
                }
            }
        }

        try {
            connect(url, wrongToken).close();
            check(false, "a wrong token is refused");
        } catch (SQLException error) {
            check("28P01".equals(error.getSQLState()), "SQLSTATE " + error.getSQLState() + ": " + error.getMessage());
        }

        System.out.println(checks + " checks pass");
    }
}
